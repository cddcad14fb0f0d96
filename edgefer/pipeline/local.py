"""Run the pipeline's repeats on this machine: each repeat is its own runner process
(`python -m edgefer.runner.pipeline run`), as a board runs it and as `bench` runs its repeats, so
the variance between runs is measured, not assumed away (host side)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

from edgefer.bench.hosts import LocalHost, WaitFn, run_runner_process, runner_report
from edgefer.pipeline.repeats import ProgressFn, run_repeats
from edgefer.pipeline.resolve import ClassifierChoice



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


def _repeats(choice: ClassifierChoice, detector: str, source: str, target: Any, settings: dict[str, Any],
             repeats: int, on_progress: ProgressFn | None) -> tuple[list[dict[str, Any]], str | None]:
    args = ["-m", "edgefer.runner.pipeline", "run", "--classifier", choice.path, "--detector", detector,
            "--source", source, *runner_args({**settings, "precision": choice.precision}),
            "--target-json", json.dumps(target.summary(), separators=(",", ":")),
            *(["--progress", "jsonl"] if on_progress is not None else [])]
    with tempfile.TemporaryDirectory(prefix="edgefer-pipeline-") as tmp:

        def run_one(i: int, on_event: Callable[[dict], None] | None) -> dict[str, Any]:
            out = os.path.join(tmp, f"repeat-{i}.json")
            return runner_report(run_runner_process([*args, "--out", out], out, on_event), "pipeline")

        return run_repeats(run_one, repeats, on_progress)
