"""The per-board worker of a study: one per target, repeats interleaved, its labgrid place held.

A board never runs two benchmarks at once: its cells are benched one after another by its own
worker, repeat 0 of every cell, then repeat 1, ... A labgrid target's worker holds its place
for its whole run and gives it back afterwards, on error and on Ctrl-C too.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from dataclasses import dataclass, field
from typing import Any

from edgefer.bench.cache import ReportCache, one_line
from edgefer.errors import EdgeferError
from edgefer.study.plan import TORCH, Cell, Plan, TargetPlan, hash_profile

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


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


class StudyStopped(Exception):
    """Ends the study with exit 2: a user error (a place that could not be had: the other boards
    still finish) or a full disk (every board stops after its current bench)."""

    def __init__(self, message: str, stop_all: bool = True):
        super().__init__(message)
        self.stop_all = stop_all


def bench_key(plan: Plan, tp: TargetPlan, run: CellRun, models: dict, repeat: int) -> dict:
    import torch

    s = plan.study.bench.settings()
    c = run.cell
    what = ({"model": plan.model(c.model).key, "torch": torch.__version__} if c.format == TORCH
            else {"sha256": (run.artifact or {}).get("sha256")})
    return {"profile": hash_profile(tp.profile), "format": c.format, "precision": c.precision, **what,
            "runs": s.runs, "warmup": s.warmup, "min_seconds": s.min_seconds, "threads": s.threads,
            "energy": s.energy, "batch_size": s.batch_size, "repeat": repeat}


def _report_rel(c: Cell, repeat: int) -> str:
    return f"reports/{c.target}/{c.id}/repeat-{repeat}.json"


class BoardWorker:
    """Benches the cells of one target, repeat after repeat, holding its labgrid place if any."""

    def __init__(self, ctx: "StudyContext", tp: TargetPlan, runs: list[CellRun]):
        self.ctx, self.tp, self.runs = ctx, tp, runs

    def todo(self) -> list[tuple[CellRun, int]]:
        plan, cache = self.ctx.plan, self.ctx.cache
        out = []
        for r in range(plan.study.bench.repeats):
            for run in self.runs:
                if run.error:
                    continue
                key = bench_key(plan, self.tp, run, self.ctx.models, r)
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
        except StudyStopped:
            raise
        except EdgeferError as exc:  # the place could not be had: the user's to fix
            for run, _ in todo:
                run.error = run.error or exc.one_line()
            raise StudyStopped(exc.one_line(), stop_all=False) from None

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
        from edgefer.bench.api import bench

        ctx, c = self.ctx, run.cell
        b = ctx.plan.study.bench
        rel = _report_rel(c, r)
        ctx.say(f"{c.target}: {ctx.models[c.model]['label']} {c.series} repeat {r + 1}/{b.repeats}")
        try:
            (ctx.plan.out / rel).parent.mkdir(parents=True, exist_ok=True)
            from_dir = run.artifact.get("from_dir")
            rep = bench(from_dir or run.artifact["path"], b.settings(), fmt=c.format if from_dir else None,
                        precision=c.precision if from_dir else None, target=board,
                        runtime=TORCH if c.format == TORCH else None,
                        repeat=1,  # one repeat per call: this worker interleaves the repeats of all cells
                        label=f"{ctx.models[c.model]['label']} {c.series} on {c.target} (repeat {r})",
                        out=str(ctx.plan.out / rel), on_progress=ctx.on_progress(c))[0]
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise StudyStopped(f"disk full while writing {rel}: {exc.strerror}") from None
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
            ctx.cache.put(f"{c.target}/{c.id}/r{r}", bench_key(ctx.plan, self.tp, run, ctx.models, r), rel)
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise StudyStopped(f"disk full while writing the cache: {exc.strerror}") from None
            raise
        with ctx.lock:
            ctx.measured += 1


@dataclass
class StudyContext:
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
