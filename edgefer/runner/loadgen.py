"""Load generator, independent of the runtime (MLPerf LoadGen style: it is handed a callable).

Order: one first inference (timed on its own), warm-up runs, then timed runs until both the run
count and the minimum duration are met. Every timed sample is appended to a caller-owned list
as soon as it is measured, so an interrupt (Ctrl-C, SIGTERM, crash) keeps what was measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)

_PROGRESS_EVERY_NS = 100_000_000  # report progress at most 10x per second: keeps the loop lean


@dataclass
class LoadResult:
    first_inference_ns: int | None = None
    samples_ns: list[int] = field(default_factory=list)
    window_start_ns: int | None = None  # perf_counter_ns at the start of the first timed run
    window_end_ns: int | None = None  # ... and at the end of the last one


def run_load(
    fn: Callable[[], Any],
    runs: int,
    warmup: int,
    min_seconds: float = 0.0,
    on_progress: ProgressFn | None = None,
    result: LoadResult | None = None,
    before_timed: Callable[[], None] | None = None,
) -> LoadResult:
    """Time `fn()`; fill and return `result` (pass your own to keep partial samples on interrupt)."""
    res = result if result is not None else LoadResult()
    clock = time.perf_counter_ns
    t0 = clock()
    fn()
    res.first_inference_ns = clock() - t0

    next_report = 0
    for i in range(warmup):
        fn()
        if on_progress is not None and (now := clock()) >= next_report:
            on_progress("warmup", i + 1, warmup)
            next_report = now + _PROGRESS_EVERY_NS
    if on_progress is not None and warmup:
        on_progress("warmup", warmup, warmup)

    if before_timed is not None:
        before_timed()
    samples = res.samples_ns
    append = samples.append
    min_ns = int(min_seconds * 1e9)
    next_report = 0
    start = clock()
    res.window_start_ns = start
    done = 0
    while done < runs or clock() - start < min_ns:
        t1 = clock()
        fn()
        t2 = clock()
        append(t2 - t1)
        res.window_end_ns = t2
        done += 1
        if on_progress is not None and t2 >= next_report:
            on_progress("timed", done, max(runs, done))
            next_report = t2 + _PROGRESS_EVERY_NS
    if on_progress is not None:
        on_progress("timed", done, done)
    return res
