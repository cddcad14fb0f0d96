"""`run_pipeline()`: the library function behind `edgefer pipeline` (host side).

Each repeat is its own runner process (`python -m edgefer.runner.pipeline run`, the same code on
this machine, a board or the emulated board: edgefer.pipeline.local / edgefer.pipeline.remote);
the host merges the repeats into one report (edgefer.pipeline.repeats), adds the target summary
and label, validates it against its schema, writes it atomically and draws the timeline plot.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from edgefer.bench.request import check_lock_timeout, check_repeat
from edgefer.errors import EdgeferError
from edgefer.pipeline.resolve import resolve_classifier, resolve_detector
from edgefer.runner.pipeline.settings import PipelineSettings


def _energy_arg(mode: Any, target: Any) -> Any:
    """The settings' energy mode -> what the runner gets: "none", or the profile's meter (optional:
    a meter missing on the board gives energy "unavailable" with the reason)."""
    if mode != "auto":
        return mode
    meter = target.energy.meter_spec()
    return {**meter, "optional": True} if meter.get("type") != "none" else meter


def run_pipeline(
    classifier: str, detector: str, source: str, settings: PipelineSettings | None = None, *,
    target: str | Any = "local", fmt: str | None = None, precision: str | None = None, label: str | None = None,
    out: str | None = None, plot: str | None = None, repeat: int | None = None,
    lock_timeout_s: float | None = None, on_wait: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Run face detection -> crop -> classification over a source; return the validated report dict.

    `settings` (edgefer.runner.pipeline.settings.PipelineSettings): what each repeat runs; its
    threads default to the target profile's. `repeat` runs (each a fresh runner process; default:
    the target profile's `bench.repeat` when free-running, 1 when camera-paced, whose point is the
    timeline) give the between-run variance that `edgefer compare` needs for a verdict. The board
    is held for the whole run (the lock `bench` takes: one measurement per board); a busy board is waited for `lock_timeout_s`
    (default: the profile's), `on_wait` told who holds it. `on_progress(repeat index, repeats,
    frames done, seconds)` about twice a second while a repeat runs.

    With `out` the report is written atomically (also when the run was interrupted: partial=true);
    with `plot` a PNG of the per-second timeline (latency, temperature) is drawn from it.
    """
    from edgefer.bench.outputs import check_out, save_report
    from edgefer.pipeline.repeats import merge_repeats
    from edgefer.report.pipeline import validate_pipeline_report
    from edgefer.targets import load_target

    s = (settings or PipelineSettings()).validate()
    if plot is not None and not plot.lower().endswith(".png"):
        raise EdgeferError(f"--plot {plot}: expected a .png path")
    if out is not None and os.path.isdir(out):
        raise EdgeferError(f"--out {out} is a directory; give a .json file path")
    check_out(out, 1)  # refused before anything is measured
    check_out(plot, 1, option="--plot")
    tgt = load_target(target)
    k = check_repeat(repeat if repeat is not None else (1 if s.fps else tgt.bench.repeat))
    timeout = check_lock_timeout(lock_timeout_s if lock_timeout_s is not None else tgt.bench.lock_timeout_s)
    choice = resolve_classifier(classifier, fmt, precision)
    det = resolve_detector(detector)
    s = s.with_(threads=s.threads or tgt.bench.threads or None, energy=_energy_arg(s.energy, tgt))
    if tgt.connection.type != "local" or tgt.emulated:
        from edgefer.pipeline.remote import run_pipeline_remote as run_repeats
    else:
        from edgefer.pipeline.local import run_pipeline_local as run_repeats
    reports, stopped, exclusive = run_repeats(choice, det, source, tgt, s, k, (timeout, on_wait), on_progress)
    report = merge_repeats(reports, tgt.bench.session_cv)
    report["exclusive"] = exclusive
    if stopped:
        report["partial"] = True
        report["partial_reason"] = "; ".join(r for r in (report["partial_reason"], stopped) if r)
    report["target"] = tgt.summary()
    report["label"] = label
    if tgt.emulated and not report["environment"].get("emulated"):
        report["environment"]["emulated"] = True
        report["environment"]["emulator"] = tgt.emulator or "emulated (per target profile)"
    validate_pipeline_report(report)
    if out is not None:
        save_report(out, report)  # a failed write keeps the report in a fallback file, named in the error
    if plot is not None:
        _plot(report, plot, out)
    return report


def _plot(report: dict[str, Any], plot: str, out: str | None) -> None:
    """Draw the timeline; if the PNG cannot be written, the measured report is not lost."""
    from edgefer.bench.outputs import save_fallback
    from edgefer.pipeline.plot import plot_timeline

    try:
        plot_timeline(report, plot)
    except OSError as exc:
        where = out if out is not None else save_fallback(report, "pipeline.json")
        kept = f"the report is in {where}" if where else "the report could not be saved either"
        raise EdgeferError(f"cannot write the plot {plot} ({exc.strerror or exc}); {kept}") from None
