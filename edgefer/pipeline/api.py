"""`run_pipeline()`: the library function behind `edgefer pipeline` (host side).

The local machine runs the device-side session in-process (the same edgefer.runner.pipeline
code a board runs); a board or the emulated board goes through edgefer.pipeline.remote. The
host adds the target summary and label, validates the report against its schema, writes it
atomically and draws the timeline plot.
"""

from __future__ import annotations

import os
from typing import Any

from edgefer.errors import EdgeferError
from edgefer.pipeline.resolve import resolve_classifier, resolve_detector

ENERGY_MODES = ("auto", "none")


def _energy_arg(mode: str, target: Any) -> Any:
    if mode not in ENERGY_MODES:
        raise EdgeferError(f"invalid --energy '{mode}' (choose from: {', '.join(ENERGY_MODES)})")
    if mode == "none":
        return "none"
    meter = target.energy.meter_spec()
    return {**meter, "optional": True} if meter.get("type") != "none" else meter


def run_pipeline(
    classifier: str, detector: str, source: str, *, target: str | Any = "local", fmt: str | None = None,
    precision: str | None = None, frames: int | None = None, fps: float | None = None,
    duration_s: float | None = None, warmup: int = 3, threads: int | None = None, resize: str = "auto",
    nms: str = "weighted", crop_margin: float = 0.1, energy: str = "auto", label: str | None = None,
    out: str | None = None, plot: str | None = None,
) -> dict[str, Any]:
    """Run face detection -> crop -> classification over a source; return the validated report dict.

    With `out` the report is written atomically (also when the run was interrupted: partial=true);
    with `plot` a PNG of the per-second timeline (latency, temperature) is drawn from it.
    """
    from edgefer.pipeline.report import validate_pipeline_report
    from edgefer.runner.files import write_json_atomic
    from edgefer.runner.pipeline.session import _check_settings
    from edgefer.targets import load_target

    _check_settings(frames, fps, duration_s, warmup, crop_margin)
    if plot is not None and not plot.lower().endswith(".png"):
        raise EdgeferError(f"--plot {plot}: expected a .png path")
    if out is not None and os.path.isdir(out):
        raise EdgeferError(f"--out {out} is a directory; give a .json file path")
    tgt = load_target(target)
    choice = resolve_classifier(classifier, fmt, precision)
    det = resolve_detector(detector)
    energy_arg = _energy_arg(energy, tgt)
    settings = dict(frames=frames, fps=fps, duration_s=duration_s, warmup=warmup,
                    threads=threads or tgt.bench.threads or None, resize=resize, nms=nms,
                    crop_margin=crop_margin, energy=energy_arg)
    if tgt.connection.type != "local" or tgt.emulated:
        from edgefer.pipeline.remote import run_pipeline_remote

        report = run_pipeline_remote(choice, det, source, tgt, settings)
    else:
        from edgefer.runner.pipeline.session import run_pipeline_session

        report = run_pipeline_session(choice.path, det, source, precision=choice.precision,
                                      target=tgt.summary(), **settings)
    report["target"] = tgt.summary()
    report["label"] = label
    if tgt.emulated and not report["environment"].get("emulated"):
        report["environment"]["emulated"] = True
        report["environment"]["emulator"] = tgt.emulator or "emulated (per target profile)"
    validate_pipeline_report(report)
    if out is not None:
        write_json_atomic(out, report)
    if plot is not None:
        from edgefer.pipeline.plot import plot_timeline

        plot_timeline(report, plot)
    return report
