"""One pipeline run -> one report dict, kind "edgefer.pipeline.report" (device side).

The same function runs on a board (`python -m edgefer.runner.pipeline run`) and in-process on
the host for the local target. User errors (bad source, detector, classifier) raise
EdgeferError before anything is timed; an interrupt (Ctrl-C, SIGTERM) or a crash once frames
flow returns the report of the frames measured so far with partial=true.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any, Callable

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.runner import envinfo
from edgefer.runner.pipeline import imaging, summary
from edgefer.runner.pipeline.heap import keep_heap
from edgefer.runner.pipeline.loop import FrameLog, LoopSettings, complete_rows, run_loop, warm_up
from edgefer.runner.pipeline.settings import PipelineSettings

SCHEMA_VERSION = "1"
DEFAULT_FRAMES = 100  # frames of a run given neither --frames nor --duration
KIND = "edgefer.pipeline.report"
RUNTIME_MODULES = ("onnxruntime", "ai-edge-litert", "tflite-runtime")


def _meter(energy: str | dict[str, Any] | None) -> tuple[Any | None, str | None]:
    """-> (meter or None, why none)."""
    from edgefer.runner.energy import auto_meter, open_meter

    if isinstance(energy, str) and energy.strip().startswith("{"):
        try:
            energy = json.loads(energy)
        except json.JSONDecodeError as exc:
            raise EdgeferError(f"--energy is not valid JSON: {exc}") from None
    if energy in (None, "none"):
        return None, "energy measurement disabled (--energy none)"
    if energy == "auto":
        return auto_meter()
    if isinstance(energy, dict):
        if str(energy.get("type", "")).lower() == "none":
            return None, energy.get("notes") or "the target profile declares no energy sensor"
        try:
            return open_meter(energy), None
        except EdgeferError as exc:
            if not energy.get("optional"):
                raise
            return None, f"profile meter not usable here: {exc.one_line()}"
    raise EdgeferError(f"invalid --energy '{energy}' (auto, none or a meter spec as JSON)")


def run_pipeline_session(
    classifier: str, detector: str, source: str, settings: PipelineSettings | None = None, *,
    target: dict[str, Any] | None = None, source_note: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the pipeline and return the report dict (validated on the host by edgefer.report.pipeline).
    `on_progress(frames processed, ns since the first timed frame)` about twice a second."""
    s = (settings or PipelineSettings()).validate()
    frames, fps, duration_s, threads, crop_margin = s.frames, s.fps, s.duration_s, s.threads, s.crop_margin
    from edgefer.runner.pipeline.classifier import FaceClassifier
    from edgefer.runner.pipeline.detectors import open_detector
    from edgefer.runner.pipeline.monitor import BoardMonitor
    from edgefer.runner.pipeline.sources import open_source
    from edgefer.runner.session import artifact_info

    heap = keep_heap()  # before the first frame's buffers
    if frames is None and duration_s is None:
        frames = DEFAULT_FRAMES
    backend = imaging.resize_backend(s.resize)
    src = open_source(source)
    det = cls = None
    try:
        det = open_detector(detector, threads=threads, resize_backend=backend, nms_mode=s.nms)
        cls = FaceClassifier(classifier, runtime=s.runtime, threads=threads, resize_backend=backend)
        meter, meter_why = _meter(s.energy)
        report: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION, "kind": KIND,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "edgefer_version": __version__,
            "partial": False, "partial_reason": None, "label": None, "target": target, "pid": os.getpid(),
            "environment": envinfo.fingerprint({m: envinfo.module_version(m) for m in RUNTIME_MODULES}),
            "source": {**src.describe(), "note": source_note},
            "detector": det.describe(),
            "classifier": {"artifact": artifact_info(classifier, s.precision), **cls.describe()},
            "settings": {"frames": frames, "fps": fps, "duration_s": duration_s, "warmup": s.warmup,
                         "threads": threads, "resize": backend, "nms": s.nms if det.kind == "blazeface" else None,
                         "crop_margin": crop_margin, "opencv": getattr(imaging.cv2_module(), "__version__", None),
                         "heap": heap,
                         "energy": s.energy if isinstance(s.energy, (str, dict)) or s.energy is None
                         else str(s.energy)},
            "statistics": None, "paced": None, "timeline": [], "energy": None, "frames": None, "results": [],
        }
        report["environment"]["opencv"] = report["settings"]["opencv"]
        warm_up(src, det, cls, s.warmup, crop_margin)
        log = FrameLog()
        monitor = BoardMonitor(meter)
        report["environment"]["temperatures_before"] = envinfo.temperatures()
        monitor.start()
        try:
            run_loop(src, det, cls, LoopSettings(frames=frames, fps=fps, duration_s=duration_s,
                                                 crop_margin=crop_margin), log, on_progress)
        except (KeyboardInterrupt, SystemExit) as exc:
            report["partial"], report["partial_reason"] = True, f"interrupted ({type(exc).__name__})"
        except EdgeferError as exc:  # e.g. a camera that stops delivering: keep what was measured
            report["partial"], report["partial_reason"] = True, exc.one_line()
        except Exception as exc:  # a runtime crash mid-run
            report["partial"], report["partial_reason"] = True, f"crashed: {type(exc).__name__}: {exc}"
        finally:
            monitor.stop()
        _fill(report, log, monitor, meter, meter_why, fps, duration_s)
        return report
    finally:
        src.close()
        if det is not None:
            det.close()
        if cls is not None:
            cls.close()


def _fill(report: dict[str, Any], log: FrameLog, monitor, meter, meter_why: str | None,
          fps: float | None, duration_s: float | None) -> None:
    cols = complete_rows(log)
    env = report["environment"]
    env["temperatures_after"] = envinfo.temperatures()
    env["throttling"] = envinfo.throttling()
    report["statistics"] = summary.statistics(cols)
    run_ns = int(cols["end_ns"][-1]) if cols["end_ns"].size else 0
    if fps:
        report["paced"] = summary.paced(cols, log.dropped_arrivals_ns, fps, duration_s if not report["partial"] else None,
                                        run_ns)
    report["timeline"] = summary.timeline(cols, log.dropped_arrivals_ns, bool(fps), monitor, log.t0_ns)
    report["frames"] = {k: v.tolist() for k, v in cols.items()}
    report["results"] = log.results[: cols["e2e_ns"].size]
    if meter is None:
        report["energy"] = {"status": "unavailable", "meter": None, "reason": meter_why, "mean_power_w": None,
                            "energy_per_frame_j": None}
    else:
        power = monitor.power_between(log.t0_ns, log.t0_ns + run_ns) if run_ns else None
        n = int(cols["e2e_ns"].size)
        status = "measured" if power is not None else "unavailable"
        report["energy"] = {"status": status, "meter": meter.describe(),
                            "reason": None if power is not None else (monitor.meter_error or "no samples in the window"),
                            "mean_power_w": power,
                            "energy_per_frame_j": power * run_ns / 1e9 / n if power is not None and n else None}
