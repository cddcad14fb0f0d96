"""Run the pipeline's repeats on this machine: each repeat is its own runner process
(`python -m edgefer.runner.pipeline run`), as a board runs it and as `bench` runs its repeats, so
the variance between runs is measured, not assumed away (host side)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

from edgefer.bench_hosts import LocalHost, WaitFn, mark_interrupted, run_runner_process, runner_error
from edgefer.errors import EdgeferError
from edgefer.pipeline.resolve import ClassifierChoice

STOPPED = "stopped on the host by Ctrl-C/SIGTERM"
ProgressFn = Callable[[int, int, float], None]  # (repeat index, frames done, seconds since its first timed frame)


def runner_args(s: dict[str, Any]) -> list[str]:
    """Pipeline settings -> the device runner's flags (shared with the remote path)."""
    args: list[str] = []
    for key, flag in (("frames", "--frames"), ("fps", "--fps"), ("duration_s", "--duration"), ("warmup", "--warmup"),
                      ("threads", "--threads"), ("resize", "--resize"), ("nms", "--nms"), ("crop_margin", "--crop-margin"),
                      ("precision", "--precision")):
        if s.get(key) is not None:
            args += [flag, str(s[key])]
    energy = s.get("energy")
    args += ["--energy", json.dumps(energy) if isinstance(energy, dict) else str(energy or "none")]
    return args


def run_pipeline_local(choice: ClassifierChoice, detector: str, source: str, target: Any, settings: dict[str, Any],
                       repeats: int, lock: tuple[float, WaitFn | None], on_progress: ProgressFn | None = None,
                       ) -> tuple[list[dict[str, Any]], str | None, dict]:
    """-> (one device report per repeat that ran, why the repeats stopped early or None, the
    board lock's record). The board lock (`bench`'s) is held for all repeats; a repeat that ends
    partial (interrupted, crashed) ends the run: what it measured is kept."""
    host = LocalHost(target)
    host.what = "pipeline"
    with host.hold(*lock) as exclusive:
        reports, stopped = _repeats(choice, detector, source, target, settings, repeats, on_progress)
    return reports, stopped, exclusive


def repeat_events(on_progress: ProgressFn | None, index: int) -> Callable[[dict], None] | None:
    """The runner's JSON progress events of repeat `index` -> on_progress(index, frames, seconds)."""
    if on_progress is None:
        return None

    def on_event(event: dict) -> None:
        if event.get("event") == "pipeline_progress":
            on_progress(index, int(event.get("frames") or 0), float(event.get("elapsed_s") or 0.0))

    return on_event


def repeat_done(on_progress: ProgressFn | None, index: int, report: dict[str, Any]) -> None:
    """The bar's last step for a repeat: what its report says it did (events come twice a second)."""
    s = report.get("statistics") or {}
    if on_progress is not None:
        on_progress(index, int(s.get("frames") or 0), float(s.get("wall_s") or 0.0))


def _repeats(choice: ClassifierChoice, detector: str, source: str, target: Any, settings: dict[str, Any],
             repeats: int, on_progress: ProgressFn | None) -> tuple[list[dict[str, Any]], str | None]:
    args = ["-m", "edgefer.runner.pipeline", "run", "--classifier", choice.path, "--detector", detector,
            "--source", source, *runner_args({**settings, "precision": choice.precision}),
            "--target-json", json.dumps(target.summary(), separators=(",", ":")),
            *(["--progress", "jsonl"] if on_progress is not None else [])]
    reports: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="edgefer-pipeline-") as tmp:
        for i in range(repeats):
            out = os.path.join(tmp, f"repeat-{i}.json")
            report, rc, tail, interrupted = run_runner_process([*args, "--out", out], out, repeat_events(on_progress, i))
            if report is None:
                if interrupted:
                    if reports:
                        return reports, f"{STOPPED} before repeat {i + 1} of {repeats} had a frame"
                    raise KeyboardInterrupt
                if rc == 2:
                    raise EdgeferError(runner_error(tail, rc))
                raise EdgeferError(f"the pipeline runner failed (exit {rc}): {runner_error(tail, rc)}")
            reports.append(mark_interrupted(report, STOPPED) if interrupted else report)
            repeat_done(on_progress, i, report)
            if report.get("partial"):
                return reports, (f"repeat {i + 1} of {repeats} ended early" if i + 1 < repeats else None)
    return reports, None
