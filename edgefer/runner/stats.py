"""Latency statistics over the raw samples (device side: numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np


def summarize(samples_ns: list[int], batch_size: int = 1) -> dict[str, Any] | None:
    """ms per batch; percentiles by linear interpolation; throughput in samples (images) per second."""
    if not samples_ns:
        return None
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    p50, p90, p95, p99 = np.percentile(ms, [50, 90, 95, 99])
    total_s = ms.sum() / 1e3
    return {
        "n": int(ms.size),
        "mean_ms": float(ms.mean()),
        "std_ms": float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
        "p50_ms": float(p50),
        "p90_ms": float(p90),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "per_sample_p50_ms": float(p50) / batch_size,
        "throughput_sps": float(ms.size * batch_size / total_s) if total_s > 0 else None,
    }
