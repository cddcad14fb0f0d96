"""Run the pipeline's repeats on this machine: each repeat is its own runner process
(`python -m edgefer.runner.pipeline run`), as a board runs it and as `bench` runs its repeats, so
the variance between runs is measured, not assumed away (host side)."""

from __future__ import annotations

import json
from typing import Any

from edgefer.bench.hosts import LocalHost, WaitFn
from edgefer.pipeline.repeats import ProgressFn, run_repeats
from edgefer.pipeline.resolve import ClassifierChoice
from edgefer.runner.pipeline.settings import PipelineSettings


def pipeline_module_args(classifier: str, detector: str, source: str, settings: PipelineSettings,
                         precision: str | None, target: Any) -> list[str]:
    """The runner process of one repeat, `python -m` these (paths as the runner there names them)."""
    return ["edgefer.runner.pipeline", "run", "--classifier", classifier, "--detector", detector,
            "--source", source, *settings.with_(precision=precision).to_argv(),
            "--target-json", json.dumps(target.summary(), separators=(",", ":"))]


def run_pipeline_local(choice: ClassifierChoice, detector: str, source: str, target: Any, settings: PipelineSettings,
                       repeats: int, lock: tuple[float, WaitFn | None], on_progress: ProgressFn | None = None,
                       ) -> tuple[list[dict[str, Any]], str | None, dict]:
    """-> (one device report per repeat that ran, why the repeats stopped early or None, the
    board lock's record). The board lock (`bench`'s) is held for all repeats; a repeat that ends
    partial (interrupted, crashed) ends the run: what it measured is kept."""
    host = LocalHost(target)
    host.what = "pipeline"
    args = pipeline_module_args(choice.path, detector, source, settings, choice.precision, target)
    return run_repeats(host, args, repeats, lock, on_progress)
