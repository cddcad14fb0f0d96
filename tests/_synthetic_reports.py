"""Synthetic bench reports with known sample distributions (test inputs, not measurements).

Built through the runner's own `finish_report`, so their shape is exactly what `edgefer bench` writes.
"""

from __future__ import annotations

import numpy as np

from edgefer.runner.repeats import finish_report, new_repeat


def repeat_samples(center_ms: float, k: int = 5, n: int = 200, between_cv: float = 0.03, within_sd: float = 0.05,
                   seed: int = 0) -> list[np.ndarray]:
    """k repeats of n samples: each repeat's level shifts (between-run), samples scatter within it."""
    rng = np.random.default_rng(seed)
    levels = center_ms * rng.lognormal(0.0, between_cv, k)
    return [rng.lognormal(np.log(level), within_sd, n) for level in levels]


def synthetic_report(repeats_ms, label, *, emulated=False, threads=1, batch=1, ort="1.20.1", energy=None,
                     size=1_000_000, model="m", schema="2"):
    """`repeats_ms`: a list of per-repeat sample arrays (ms per batch), or one flat array (one repeat)."""
    if len(repeats_ms) and np.ndim(repeats_ms[0]) == 0:
        repeats_ms = [np.asarray(repeats_ms)]
    report = {
        "schema_version": "2", "kind": "edgefer.bench.report", "created_utc": "2026-11-21T20:00:00Z",
        "edgefer_version": "0.2.0", "partial": False, "partial_reason": None,
        "artifact": {"path": f"/x/{label}.onnx", "file": f"{label}.onnx", "format": "onnx", "precision": "fp32",
                     "size_bytes": size, "sha256": "0" * 64},
        "model": {"name": model, "params": 1, "macs": 1, "flops": 2}, "manifest": None,
        "target": {"name": "local", "board": None, "arch": "x86_64", "transport": "local"},
        "environment": {"hostname": "h", "machine": "aarch64" if emulated else "x86_64", "cpu_model": "cpu",
                        "cpu_flags": [], "cpu_count": 2, "kernel": "k", "os": "linux", "python": "3.11",
                        "numpy": "2", "runtime_versions": {"onnxruntime": ort}, "governor": None,
                        "temperatures_before": {}, "temperatures_after": {}, "throttling": None,
                        "emulated": emulated, "emulator": "qemu-aarch64 (cortex-a72)" if emulated else None},
        "runtime": {"name": "onnxruntime", "version": ort, "threads": threads, "providers": ["CPUExecutionProvider"],
                    "delegates": None, "inputs": [], "outputs": []},
        "settings": {"runs": len(repeats_ms[0]), "warmup": 5, "min_seconds": 0, "batch_size": batch,
                     "threads": threads, "cpus": None, "cooldown_s": 0, "energy": "none"},
        "timing": {}, "statistics": None, "resources": {}, "energy": None, "accuracy": None, "label": label,
        "repeats": [], "exclusive": {"held": True, "lock": "local:/tmp/x", "waited_s": 0.0}, "warnings": [],
    }
    for i, ms in enumerate(repeats_ms):
        rec = new_repeat(i)
        rec.update(samples_ns=[int(round(x * 1e6)) for x in ms], load_ms=1.0, first_inference_ms=2.0,
                   peak_rss_mb=100.0, rss_before_load_mb=60.0, model_rss_mb=40.0,
                   energy=energy or {"status": "unavailable", "reason": "no sensor on this target", "meter": None})
        report["repeats"].append(rec)
    report = finish_report(report)
    if schema == "1":  # as 0.1.0 wrote it: one run, no repeats, no between-run estimate
        for key in ("repeats", "exclusive", "warnings"):
            report.pop(key)
        report["schema_version"] = "1"
        report["statistics"].pop("between_repeats")
        report["settings"].pop("repeat")
        report["resources"] = {"peak_rss_mb": 100.0, "cpu_utilization_pct": None}
    return report
