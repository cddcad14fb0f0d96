"""Repeats: one record per runner process, merged into one report (device side: numpy only).

A repeat is pyperf's "run": a fresh process that loads the model, warms up and times its own runs.
The report keeps every repeat's samples and figures; its top-level timing, statistics, resources
and energy are derived from the repeats by `finish_report`, so a merged report and a single-repeat
report have the same shape. Reports of schema "1" (0.1.0) have no repeats: they load, marked as
having no between-run estimate (edgefer/report/bench.py).
"""

from __future__ import annotations

import math
import os
import statistics as pystats
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.hierarchical import between_repeat_cv, bootstrap, point_estimate, t_interval
from edgefer.runner.stats import summarize

SCHEMA_VERSION = "2"


def new_repeat(index: int) -> dict[str, Any]:
    return {
        "index": index, "pid": os.getpid(), "started_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "started_unix_ns": time.time_ns(),  # orders repeats of several artifacts (interleaving)
        "partial": False, "partial_reason": None, "load_ms": None, "first_inference_ms": None, "samples_ns": [],
        "rss_before_load_mb": None, "peak_rss_mb": None, "model_rss_mb": None, "threads": None,
        "cpu_utilization_pct": None, "temperatures_before": {}, "temperatures_after": {}, "throttling": None,
        "energy": None,
    }


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(pystats.median(vals)) if vals else None


def _between(repeats: list[dict[str, Any]], batch_size: int, session_cv: float | None) -> dict[str, Any]:
    groups = [np.asarray(r["samples_ns"], dtype=np.float64) / 1e6 / batch_size for r in repeats if r["samples_ns"]]
    p50s = [float(np.percentile(g, 50)) for g in groups]
    out: dict[str, Any] = {"repeats": len(groups), "p50_ms_per_repeat": p50s,
                           "mean_p50_ms": float(np.mean(p50s)) if p50s else None,
                           "cv": between_repeat_cv(groups) if groups else None,
                           "ci95_p50_ms": None, "method": None, "session_cv": session_cv}
    if len(groups) >= 2:
        point = point_estimate(groups, ["p50"])
        lo, hi = t_interval(point, bootstrap(groups, ["p50"], n_resamples=1000), len(groups), session_cv or 0.0)
        out["ci95_p50_ms"] = [float(lo[0]), float(hi[0])]
        out["mean_p50_ms"] = float(point[0])
        out["method"] = ("two-level bootstrap (repeats, then samples within them) standard error, "
                         f"Student's t over {len(groups)} repeats, 95%"
                         + (f", plus the target's session CV {session_cv:.1%}" if session_cv else ""))
    return out


def _energy(repeats: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One repeat: its energy. Several measured/estimated: the mean per inference, its uncertainty
    combining each meter's (within) and the spread between repeats."""
    es = [r.get("energy") for r in repeats if r.get("energy")]
    if not es:
        return None
    if len(es) == 1:
        return es[0]
    ok = [e for e in es if e.get("status") in ("measured", "estimated") and e.get("energy_per_inference_j") is not None]
    if len(ok) != len(es) or len({e["status"] for e in ok}) != 1:
        return next((e for e in es if e.get("status") == "unavailable"), es[0])
    vals = [e["energy_per_inference_j"] for e in ok]
    k = len(vals)
    within = math.sqrt(sum((e.get("uncertainty_j") or 0.0) ** 2 for e in ok)) / k
    between = (pystats.stdev(vals) / math.sqrt(k)) if k > 1 else 0.0
    merged = dict(ok[0])

    def mean_of(key: str) -> float | None:
        xs = [e.get(key) for e in ok if e.get(key) is not None]
        return float(sum(xs) / len(xs)) if xs else None

    merged.update({
        "energy_per_inference_j": float(sum(vals) / k),
        "energy_per_inference_above_idle_j": mean_of("energy_per_inference_above_idle_j"),
        "mean_power_w": mean_of("mean_power_w"), "idle_power_w": mean_of("idle_power_w"),
        "n_samples": sum(int(e.get("n_samples") or 0) for e in ok),
        "window_s": sum(float(e.get("window_s") or 0.0) for e in ok),
        "uncertainty_j": math.hypot(within, between) if ok[0].get("uncertainty_j") is not None or k > 1 else None,
    })
    if merged.get("reason") is None and k > 1:
        merged["reason"] = f"mean of {k} repeats; uncertainty combines each meter's and the between-repeat spread"
    return merged


def finish_report(report: dict[str, Any], session_cv: float | None = None) -> dict[str, Any]:
    """Derive timing, statistics, resources, energy and partial state from report["repeats"].
    `session_cv`: the target profile's between-session drift (hierarchical.py), added to intervals."""
    reps = report["repeats"]
    batch = int(report["settings"].get("batch_size") or 1)
    samples = [s for r in reps for s in r["samples_ns"]]
    report["timing"] = {"load_ms": _median([r["load_ms"] for r in reps]),
                        "first_inference_ms": _median([r["first_inference_ms"] for r in reps]),
                        "samples_ns": samples}
    stats = summarize(samples, batch)
    if stats is not None:
        stats["between_repeats"] = _between(reps, batch, session_cv)
    report["statistics"] = stats
    report["resources"] = {
        "peak_rss_mb": max((r["peak_rss_mb"] for r in reps if r["peak_rss_mb"] is not None), default=None),
        "rss_before_load_mb": _median([r["rss_before_load_mb"] for r in reps]),
        "model_rss_mb": _median([r["model_rss_mb"] for r in reps]),
        "threads": max((r["threads"] for r in reps if r["threads"] is not None), default=None),
        "cpu_utilization_pct": _median([r["cpu_utilization_pct"] for r in reps]),
        "measured_in": "the runner process (its own memory, not the host's)",
    }
    report["settings"]["repeat"] = len(reps)
    env = report["environment"]
    if reps:
        env["temperatures_before"] = reps[0].get("temperatures_before") or {}
        env["temperatures_after"] = reps[-1].get("temperatures_after") or {}
        throttles = [r["throttling"] for r in reps if isinstance(r.get("throttling"), dict)]
        env["throttling"] = ({k: any(bool(t.get(k)) for t in throttles) if isinstance(throttles[0].get(k), bool)
                              else throttles[-1].get(k) for k in throttles[0]} if throttles else None)
    report["energy"] = _energy(reps)
    bad = [r for r in reps if r["partial"]]
    report["partial"] = bool(bad)
    report["partial_reason"] = (f"repeat {bad[0]['index'] + 1} of {len(reps)}: {bad[0]['partial_reason']}"
                                if bad and len(reps) > 1 else bad[0]["partial_reason"] if bad else None)
    return report


def merge_repeats(reports: list[dict[str, Any]], session_cv: float | None = None) -> dict[str, Any]:
    """Reports of single repeats of one artifact (each from its own runner process) -> one report."""
    if not reports:
        raise EdgeferError("no repeat to merge")
    shas = {(r.get("artifact") or {}).get("sha256") for r in reports}
    if len(shas) > 1:
        raise EdgeferError("cannot merge repeats of different artifacts (sha256 differ)")
    merged = dict(reports[0])
    merged["settings"] = dict(reports[0]["settings"])
    merged["environment"] = dict(reports[0]["environment"])
    merged["runtime"] = next((r["runtime"] for r in reports if r.get("runtime")), None)
    merged["warnings"] = list(dict.fromkeys(w for r in reports for w in r.get("warnings") or []))
    for key in ("op_profile", "instructions", "accelerators"):  # sections taken from one repeat (the first with one)
        merged[key] = next((r[key] for r in reports if r.get(key)), None)
        if merged[key] is None:
            merged.pop(key, None)
    repeats = []
    for i, r in enumerate(reports):
        for rec in r.get("repeats") or []:
            repeats.append({**rec, "index": len(repeats)})
    merged["repeats"] = repeats
    return finish_report(merged, session_cv)
