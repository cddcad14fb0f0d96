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

import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgefer.bench.cache import ReportCache
from edgefer.errors import EdgeferError
from edgefer.study.convert_step import convert_models
from edgefer.study.plan import Plan, make_plan
from edgefer.study.spec import Study
from edgefer.study.workers import DISK_FULL, BoardWorker, CellRun, StudyContext, StudyStopped, bench_key


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
    ctx = StudyContext(plan, cache, {}, progress)
    n_convert = sum(1 for m in plan.models if not m.is_artifact)
    if progress is not None:
        ctx.task = progress.add_task("study: convert", total=n_convert)
    runs = convert_models(ctx, plan)
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


def _bench_all(ctx: StudyContext, plan: Plan, runs: list[CellRun]) -> str | None:
    workers = [BoardWorker(ctx, tp, [r for r in runs if r.cell.target == tp.id]) for tp in plan.targets]
    todo = sum(len(w.todo()) for w in workers)
    if ctx.progress is not None:
        ctx.progress.update(ctx.task, description="study: bench", total=(ctx.progress.tasks[0].total or 0) + todo)
        for w in workers:
            ctx.board_tasks[w.tp.id] = ctx.progress.add_task(f"  {w.tp.id}", total=None)
    fatal: list[str] = []

    def guarded(w: BoardWorker) -> None:
        try:
            w()
        except StudyStopped as exc:
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
            key = bench_key(plan, tp, run, result.models, r)
            if cache.get(cid, key) is not None:
                run.repeats.append({"index": r, "report": cache.entries[cid]["report"]})
        if result.fatal and not run.repeats and not run.error:
            run.error = f"not measured: {result.fatal}"
        elif result.fatal and len(run.repeats) < plan.study.bench.repeats and not run.error:
            run.error = f"{len(run.repeats)} of {plan.study.bench.repeats} repeats: {result.fatal}"


__all__ = ["CellRun", "StudyRun", "run_study"]
