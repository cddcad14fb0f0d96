"""Per-frame columns -> the report's statistics, paced-mode figures and per-second timeline
(device side: numpy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from edgefer.runner.pipeline.loop import STAGES


def dist(ns: np.ndarray) -> dict[str, Any] | None:
    """Latency distribution in ms (percentiles by linear interpolation); None when empty."""
    if ns.size == 0:
        return None
    ms = ns.astype(np.float64) / 1e6
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"n": int(ms.size), "mean_ms": float(ms.mean()), "p50_ms": float(p50), "p90_ms": float(p90),
            "p99_ms": float(p99), "max_ms": float(ms.max())}


def statistics(cols: dict[str, np.ndarray]) -> dict[str, Any] | None:
    n = int(cols["e2e_ns"].size)
    if n == 0:
        return None
    e2e = cols["e2e_ns"]
    stage_sum = sum(cols[f"{s}_ns"] for s in STAGES)
    runtime = cols["detect_runtime_ns"] + cols["classify_runtime_ns"]
    faces = cols["faces"]
    wall_ns = int(cols["end_ns"][-1] - cols["start_ns"][0])
    hist = np.bincount(faces)
    return {
        "frames": n,
        "wall_s": wall_ns / 1e9,
        "throughput_fps": n / (wall_ns / 1e9) if wall_ns > 0 else None,
        "faces_per_frame": {"mean": float(faces.mean()), "max": int(faces.max()),
                            "histogram": {str(k): int(v) for k, v in enumerate(hist) if v}},
        "classifications": int(faces.sum()),
        "stages": {s: dist(cols[f"{s}_ns"]) for s in STAGES},
        # crop/preprocess and classify per face, over the frames that had faces (the per-frame
        # stage figures above include the frames without a face, where these stages cost ~0)
        "per_face": {s: dist(cols[f"{s}_ns"][faces > 0] // faces[faces > 0]) for s in ("preprocess", "classify")},
        "e2e": dist(e2e),
        "runtime_calls": dist(runtime),  # detector + classifier runtime calls alone
        # everything in e2e that is neither a runtime call nor frame acquisition: the pipeline's
        # own work (letterbox, anchor decoding, NMS, crop/resize, normalisation, softmax, bookkeeping)
        "glue": dist(e2e - runtime - cols["acquire_ns"]),
        "unaccounted": dist(e2e - stage_sum),  # loop bookkeeping between the stage clocks
        "glue_share_of_e2e": float((e2e - runtime - cols["acquire_ns"]).sum() / e2e.sum()) if e2e.sum() else None,
    }


def paced(cols: dict[str, np.ndarray], dropped: list[int], fps: float, duration_s: float | None,
          t_run_ns: int) -> dict[str, Any]:
    processed = int(cols["e2e_ns"].size)
    late = int(cols["late"].sum())
    queue = cols["start_ns"] - cols["arrival_ns"]
    latency = cols["end_ns"] - cols["arrival_ns"]
    run_s = (duration_s if duration_s else t_run_ns / 1e9) or 0.0
    return {
        "fps": fps, "duration_s": duration_s, "offered": processed + len(dropped), "processed": processed,
        "dropped": len(dropped), "late": late, "deadline_misses": late + len(dropped),
        "achieved_fps": processed / run_s if run_s > 0 else None,
        "on_time_fps": (processed - late) / run_s if run_s > 0 else None,
        "queue_delay": dist(queue), "latency": dist(latency),
    }


def timeline(cols: dict[str, np.ndarray], dropped: list[int], paced_mode: bool, monitor, t0_ns: int) -> list[dict[str, Any]]:
    """One row per second of the run (by completion time): frames, fps, latency, misses and the
    board state sampled nearest that second (frequency, hottest zone, throttling, power)."""
    if cols["end_ns"].size == 0:
        return []
    end_s = cols["end_ns"] // 1_000_000_000
    latency = (cols["end_ns"] - cols["arrival_ns"]) if paced_mode else cols["e2e_ns"]
    drops = np.asarray(dropped, dtype=np.int64) // 1_000_000_000
    rows = []
    for sec in range(int(end_s.max()) + 1):
        sel = end_s == sec
        lat = latency[sel]
        state = monitor.nearest(t0_ns + (sec + 1) * 1_000_000_000) if monitor is not None else None
        temps = (state or {}).get("temperatures") or {}
        thr = (state or {}).get("throttling")
        rows.append({
            "t_s": sec, "frames": int(sel.sum()), "fps": int(sel.sum()),
            "latency_p50_ms": float(np.percentile(lat, 50)) / 1e6 if lat.size else None,
            "latency_p99_ms": float(np.percentile(lat, 99)) / 1e6 if lat.size else None,
            "late": int(cols["late"][sel].sum()), "dropped": int((drops == sec).sum()),
            "cpu_freq_mhz": (state or {}).get("cpu_freq_mhz"),
            "temperature_c": max(temps.values()) if temps else None, "temperatures": temps,
            "throttled": (thr.get("throttled") or thr.get("arm_freq_capped") or thr.get("soft_temp_limit"))
                         if thr else None,
            "throttling": thr,
            "power_w": monitor.power_between(t0_ns + sec * 1_000_000_000, t0_ns + (sec + 1) * 1_000_000_000)
                       if monitor is not None else None,
        })
    return rows
