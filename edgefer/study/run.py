"""Run a study: convert each model once, then bench every cell on every target.

One worker thread per target: a board never runs two benchmarks at once, different boards
run at the same time (bench.concurrent), and on each board the repeats are interleaved
(repeat 0 of every cell, then repeat 1 of every cell, ...), so a slow drift of the board
(temperature, background load) spreads over all cells instead of biasing one. A labgrid
target's worker holds its place for its whole run and gives it back afterwards, on error and
on Ctrl-C too.

Resumable: every repeat report is cached under a key of what changes it (artifact sha256,
bench settings, the target profile, the repeat index); a rerun measures only what is missing
or changed. A cell that fails keeps its error and the study goes on; what the user has to fix
(a place held past its timeout, an unreachable coordinator, a full disk) stops the study
with one line (exit 2) after the finished cells are written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edgefer.errors import EdgeferError
from edgefer.measure import ReportCache, convert_once, key_hash, one_line
from edgefer.runner.files import write_text_atomic
from edgefer.study.plan import TORCH, Cell, ModelPlan, Plan, TargetPlan, hash_profile, make_plan
from edgefer.study.spec import Study

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
KEY_FILE = "study-key.json"


@dataclass
class CellRun:
    """One cell's measurement: its repeat reports (paths relative to the study dir)."""

    cell: Cell
    artifact: dict | None = None  # {"path", "file", "sha256", "size_bytes"}
    repeats: list[dict] = field(default_factory=list)  # {"index", "report", "cached"}
    error: str | None = None
    partial: bool = False
    place: str | None = None

    @property
    def status(self) -> str:
        if self.error and not self.repeats:
            return "failed"
        if self.error or self.partial:
            return "incomplete"
        return "ok"


@dataclass
class StudyRun:
    plan: Plan
    models: dict[str, dict]  # model id -> {label, params, macs, ..., error}
    cells: list[CellRun]
    fatal: str | None = None
    wall_s: float = 0.0
    measured: int = 0  # repeat reports measured in this run (the rest came from the cache)
    files: dict[str, str] = field(default_factory=dict)
    result: dict = field(default_factory=dict)  # what results.json holds

    @property
    def failed(self) -> list[CellRun]:
        return [c for c in self.cells if c.status != "ok"]


class _Fatal(Exception):
    """Ends the study with exit 2: a user error (a place that could not be had: the other boards
    still finish) or a full disk (every board stops after its current bench)."""

    def __init__(self, message: str, stop_all: bool = True):
        super().__init__(message)
        self.stop_all = stop_all


# ---------------------------------------------------------------- conversion


def _convert(m: ModelPlan, step: Callable) -> dict:
    """The model's manifest, converting only when the stored key differs (model, weights, settings)."""
    key_path = m.dir / KEY_FILE

    def reusable(_manifest: dict) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(key_path.read_text()) == json.loads(json.dumps(m.key, default=str))
        return False

    manifest = convert_once(m.dir, m.convert_options, step, reusable)
    write_text_atomic(key_path, json.dumps(m.key, default=str, indent=1, sort_keys=True))
    return manifest


def _model_facts(m: ModelPlan, manifest: dict | None) -> dict:
    model = (manifest or {}).get("model") or {}
    return {"id": m.id, "label": m.label, "source": (manifest or {}).get("source") or _source(m),
            "params": model.get("params_total", model.get("params")), "macs": model.get("macs"),
            "flops": model.get("flops"), "input": (manifest or {}).get("input"),
            "weights": (manifest or {}).get("weights"), "dir": str(m.dir),
            "warnings": (manifest or {}).get("warnings", []), "failed": (manifest or {}).get("failed", []),
            "error": None}


def _source(m: ModelPlan) -> dict:
    s = m.spec
    if s.zoo:
        return {"type": "zoo", "name": s.zoo, "args": s.args}
    if s.module:
        return {"type": "module", "module": s.module, "args": s.args}
    return {"type": "artifact", "path": s.artifact}


def _artifact_cells(m: ModelPlan, manifest: dict | None, plan: Plan) -> list[tuple[str, str | None, dict | None, str | None]]:
    """(format, precision, artifact record, error) of every cell of this model (target aside)."""
    from edgefer.runner.files import sha256_file

    spec_path = Path(m.spec.artifact) if m.is_artifact else None
    if spec_path is not None and spec_path.is_file():
        fmt = spec_path.suffix.lstrip(".")
        rec = {"path": str(spec_path), "file": spec_path.name, "sha256": sha256_file(spec_path),
               "size_bytes": spec_path.stat().st_size}
        return [(fmt, None, rec, None)]
    arts = {(a["format"], a["precision"]): a for a in (manifest or {}).get("artifacts", [])}
    out = []
    for fmt, prec in plan.series():
        if fmt == TORCH:
            if not m.is_artifact:
                out.append((fmt, prec, {"path": str(m.dir), "file": None, "sha256": None, "size_bytes": None}, None))
            continue
        a = arts.get((fmt, prec))
        if a is None:
            if m.is_artifact:
                continue  # a ready directory offers what it has
            why = [f for f in (manifest or {}).get("failed", []) if f.startswith(f"{fmt} ")]
            out.append((fmt, prec, None, why[0] if why else f"{fmt} {prec}: not produced by convert"))
            continue
        # benched through the converted directory: the report then carries the manifest's model facts
        rec = {"path": str(m.dir / a["file"]), "file": a["file"], "sha256": a.get("sha256"),
               "size_bytes": a.get("size_bytes"), "verification": a.get("verification"), "from_dir": str(m.dir)}
        out.append((fmt, prec, rec, None))
    return out


# ---------------------------------------------------------------- benching


def _bench_key(plan: Plan, tp: TargetPlan, run: CellRun, models: dict, repeat: int) -> dict:
    import torch

    b = plan.study.bench
    c = run.cell
    what = ({"model": plan.model(c.model).key, "torch": torch.__version__} if c.format == TORCH
            else {"sha256": (run.artifact or {}).get("sha256")})
    return {"profile": hash_profile(tp.profile), "format": c.format, "precision": c.precision, **what,
            "runs": b.runs, "warmup": b.warmup, "min_seconds": b.min_seconds, "threads": b.threads,
            "energy": b.energy, "batch_size": 1, "repeat": repeat}


def _report_rel(c: Cell, repeat: int) -> str:
    return f"reports/{c.target}/{c.id}/repeat-{repeat}.json"


class _Worker:
    """Benches the cells of one target, repeat after repeat, holding its labgrid place if any."""

    def __init__(self, ctx: "_Context", tp: TargetPlan, runs: list[CellRun]):
        self.ctx, self.tp, self.runs = ctx, tp, runs

    def todo(self) -> list[tuple[CellRun, int]]:
        plan, cache = self.ctx.plan, self.ctx.cache
        out = []
        for r in range(plan.study.bench.repeats):
            for run in self.runs:
                if run.error:
                    continue
                key = _bench_key(plan, self.tp, run, self.ctx.models, r)
                if cache.get(f"{run.cell.target}/{run.cell.id}/r{r}", key) is None:
                    out.append((run, r))
        return out

    def __call__(self) -> None:
        todo = self.todo()
        if not todo or self.ctx.stop.is_set():
            return
        try:
            with self._board() as (board, place):
                for run in self.runs:
                    run.place = place
                for run, r in todo:
                    if self.ctx.stop.is_set():
                        return
                    if run.error:
                        continue  # failed in an earlier repeat: the next cells go on
                    self._bench(board, run, r)
        except _Fatal:
            raise
        except EdgeferError as exc:  # the place could not be had: the user's to fix
            for run, _ in todo:
                run.error = run.error or exc.one_line()
            raise _Fatal(exc.one_line(), stop_all=False) from None

    @contextlib.contextmanager
    def _board(self):
        if not self.tp.is_lab:
            yield self.tp.profile, None
            return
        from edgefer.lab import leased_target

        self.ctx.say(f"{self.tp.id}: waiting for labgrid place")
        with leased_target(self.tp.profile, cancel=self.ctx.stop) as (board, lease):
            self.ctx.say(f"{self.tp.id}: holding labgrid place {lease.place}")
            yield board, lease.place

    def _bench(self, board, run: CellRun, r: int) -> None:
        from edgefer.bench import bench

        ctx, c = self.ctx, run.cell
        b = ctx.plan.study.bench
        rel = _report_rel(c, r)
        ctx.say(f"{c.target}: {ctx.models[c.model]['label']} {c.series} repeat {r + 1}/{b.repeats}")
        try:
            (ctx.plan.out / rel).parent.mkdir(parents=True, exist_ok=True)
            from_dir = run.artifact.get("from_dir")
            rep = bench(from_dir or run.artifact["path"], fmt=c.format if from_dir else None,
                        precision=c.precision if from_dir else None, target=board,
                        runtime=TORCH if c.format == TORCH else None,
                        runs=b.runs, warmup=b.warmup, min_seconds=b.min_seconds, threads=b.threads, energy=b.energy,
                        label=f"{ctx.models[c.model]['label']} {c.series} on {c.target} (repeat {r})",
                        out=str(ctx.plan.out / rel), on_progress=ctx.on_progress(c))[0]
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise _Fatal(f"disk full while writing {rel}: {exc.strerror}") from None
            run.error = one_line(exc)
            return
        except EdgeferError as exc:
            run.error = exc.one_line()
            return
        except Exception as exc:  # a cell failing must not stop the study
            run.error = one_line(exc)
            return
        finally:
            ctx.advance()
        if rep.get("partial"):
            run.partial = True
            run.error = f"partial report: {rep.get('partial_reason') or 'interrupted'}"
            return
        try:
            ctx.cache.put(f"{c.target}/{c.id}/r{r}", _bench_key(ctx.plan, self.tp, run, ctx.models, r), rel)
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise _Fatal(f"disk full while writing the cache: {exc.strerror}") from None
            raise
        with ctx.lock:
            ctx.measured += 1


@dataclass
class _Context:
    plan: Plan
    cache: ReportCache
    models: dict[str, dict]
    progress: Any = None
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    measured: int = 0
    task: Any = None
    board_tasks: dict = field(default_factory=dict)

    def say(self, text: str) -> None:
        if self.progress is not None:
            who = text.partition(":")[0]
            task = self.board_tasks.get(who)
            if task is not None:
                self.progress.update(task, description=f"  {text}")

    def advance(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def on_progress(self, c: Cell):
        if self.progress is None:
            return None
        task = self.board_tasks.get(c.target)

        def factory(_job):
            def cb(phase: str, done: int, total: int) -> None:
                self.progress.update(task, completed=done, total=total or None)
            return cb

        return factory


# ---------------------------------------------------------------- main entry


def run_study(study: Study | str | Path, *, out: str | None = None, use_cache: bool = True, plot: bool = True,
              progress: Any = None, command: str | None = None, concurrent: bool | None = None) -> StudyRun:
    """Run STUDY.yaml (or a Study); writes results.json, table.tex/.md/.csv and plots into its out dir.

    Returns the StudyRun (`.failed` lists the cells that did not finish). Raises EdgeferError
    for bad input and for what stops a study half-way (place held past the timeout, coordinator
    unreachable, disk full), after writing everything finished so far.
    """
    from edgefer.study.spec import load_study

    if not isinstance(study, Study):
        study = load_study(study, out=out)
    elif out is not None:
        study = study.model_copy(update={"out": out})
    if concurrent is not None:
        study = study.model_copy(update={"bench": study.bench.model_copy(update={"concurrent": concurrent})})
    plan = make_plan(study)
    started = time.monotonic()
    try:
        plan.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeferError(f"output directory {plan.out}: {exc.strerror or exc}") from None
    _check_labs(plan)
    cache = ReportCache(plan.out)
    if not use_cache:
        cache.entries = {}  # measure everything again; this run's reports replace the old ones
    ctx = _Context(plan, cache, {}, progress)
    n_convert = sum(1 for m in plan.models if not m.is_artifact)
    if progress is not None:
        ctx.task = progress.add_task("study: convert", total=n_convert)
    runs = _convert_all(ctx, plan)
    fatal: str | None = None
    try:
        fatal = _bench_all(ctx, plan, runs)
    finally:
        result = StudyRun(plan, ctx.models, runs, fatal, time.monotonic() - started, ctx.measured)
        _collect(result, cache)
        try:
            from edgefer.study.outputs import write_outputs

            write_outputs(result, plot=plot, command=command)
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            result.fatal = result.fatal or f"disk full while writing the results: {exc.strerror}"
        if any(tp.is_lab for tp in plan.targets):
            from edgefer.lab import clients

            clients.close_all()  # every place is released by now; disconnect from the coordinators
    if result.fatal:
        raise EdgeferError(f"study stopped: {result.fatal} (finished cells are kept in {plan.out})")
    return result


def _check_labs(plan: Plan) -> None:
    """Unreachable coordinators and unknown places are found before anything is converted."""
    from edgefer.lab import clients
    from edgefer.lab.targets import check_connection

    for tp in plan.targets:
        if tp.is_lab:
            check_connection(tp.profile)
            c = tp.profile.connection
            clients.get(c.coordinator).check(place=c.place, tags=c.tags)


def _convert_all(ctx: _Context, plan: Plan) -> list[CellRun]:
    runs: list[CellRun] = []
    per_model: dict[str, list] = {}
    for m in plan.models:
        manifest = None
        error = None
        try:
            if m.is_artifact:
                if m.dir.is_dir() and (m.dir / "manifest.json").is_file() and Path(m.spec.artifact).is_dir():
                    from edgefer.convert.manifest import read_manifest

                    manifest = read_manifest(m.dir)
            else:
                if ctx.progress is not None:
                    ctx.progress.update(ctx.task, description=f"study: convert {m.label}")
                manifest = _convert(m, lambda desc, _m=m: _step(ctx, f"study: convert {_m.label}: {desc}"))
                ctx.advance()
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise EdgeferError(f"disk full while converting {m.label}: {exc.strerror}") from None
            error = one_line(exc)
        except Exception as exc:  # one model failing must not stop the others
            error = one_line(exc)
            if not m.is_artifact:
                ctx.advance()
        facts = _model_facts(m, manifest)
        facts["error"] = error
        ctx.models[m.id] = facts
        per_model[m.id] = ([(None, None, None, error)] if error else _artifact_cells(m, manifest, plan))
    for tp in plan.targets:
        for m in plan.models:
            for fmt, prec, rec, err in per_model[m.id]:
                if fmt == TORCH and not tp.runs_torch:
                    continue
                cell = Cell(tp.id, m.id, fmt or "model", prec)
                runs.append(CellRun(cell, rec, error=err))
    return runs


@contextlib.contextmanager
def _step(ctx: _Context, desc: str):
    if ctx.progress is not None:
        ctx.progress.update(ctx.task, description=desc)
    yield


def _bench_all(ctx: _Context, plan: Plan, runs: list[CellRun]) -> str | None:
    workers = [_Worker(ctx, tp, [r for r in runs if r.cell.target == tp.id]) for tp in plan.targets]
    todo = sum(len(w.todo()) for w in workers)
    if ctx.progress is not None:
        ctx.progress.update(ctx.task, description="study: bench", total=(ctx.progress.tasks[0].total or 0) + todo)
        for w in workers:
            ctx.board_tasks[w.tp.id] = ctx.progress.add_task(f"  {w.tp.id}", total=None)
    fatal: list[str] = []

    def guarded(w: _Worker) -> None:
        try:
            w()
        except _Fatal as exc:
            fatal.append(str(exc))
            if exc.stop_all:
                ctx.stop.set()

    n = len(workers) if plan.study.bench.concurrent else 1
    pool = ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix="study-board")
    futures = [pool.submit(guarded, w) for w in workers]
    try:
        while True:  # wake up regularly so Ctrl-C reaches this (main) thread
            done, pending = wait(futures, timeout=0.5)
            if not pending:
                break
    except BaseException:
        ctx.stop.set()  # workers stop after their current bench and give their places back
        wait(futures)
        raise
    finally:
        pool.shutdown(wait=True)
    for f in futures:
        f.result()  # a programming error in a worker is not swallowed
    if ctx.progress is not None:
        ctx.progress.update(ctx.task, description="study: done")
    return fatal[0] if fatal else None


def _collect(result: StudyRun, cache: ReportCache) -> None:
    """Every cell's repeat reports present now (this run's and earlier runs')."""
    plan = result.plan
    for run in result.cells:
        if run.artifact is None:
            continue
        tp = plan.target(run.cell.target)
        run.repeats = []
        for r in range(plan.study.bench.repeats):
            cid = f"{run.cell.target}/{run.cell.id}/r{r}"
            key = _bench_key(plan, tp, run, result.models, r)
            if cache.get(cid, key) is not None:
                run.repeats.append({"index": r, "report": cache.entries[cid]["report"]})
        if result.fatal and not run.repeats and not run.error:
            run.error = f"not measured: {result.fatal}"
        elif result.fatal and len(run.repeats) < plan.study.bench.repeats and not run.error:
            run.error = f"{len(run.repeats)} of {plan.study.bench.repeats} repeats: {result.fatal}"


__all__ = ["CellRun", "StudyRun", "run_study", "key_hash"]
