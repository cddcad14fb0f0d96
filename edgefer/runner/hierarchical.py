"""Two-level (hierarchical) bootstrap over repeats and the samples within them (numpy only).

Samples of one process are not independent draws: process start, memory layout, frequency and
neighbours shift a whole repeat. Kalibera & Jones ("Rigorous Benchmarking in Reasonable Time",
ISMM 2013) resample at each level that varies: pick repeats with replacement, then samples with
replacement within each picked repeat, and compute the statistic of that. Here the statistic of a
report is the mean over its repeats of a per-repeat statistic (a percentile or the mean), so the
between-repeat variance enters every interval.

Cost: each repeat's within-level bootstrap is computed once (n_resamples x its sample count, in
blocks), then the repeat level draws from those, so a report with many long repeats stays cheap.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

N_RESAMPLES = 2000
SEED = 20261201  # fixed: the same reports always give the same intervals
_BLOCK_VALUES = 4_000_000  # values per resampling block (~32 MB of float64)


def per_repeat_stat(samples: np.ndarray, stat: str) -> np.ndarray:
    """`stat` = "mean" or a percentile like "p50"; returns a 0-d array."""
    if stat == "mean":
        return np.asarray(samples.mean())
    return np.asarray(np.percentile(samples, float(stat[1:])))


def _within(samples: np.ndarray, stats: Sequence[str], n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, len(stats)): each row the stats of one with-replacement resample of `samples`."""
    out = np.empty((n, len(stats)))
    m = samples.size
    rows = max(1, _BLOCK_VALUES // max(m, 1))
    qs = [float(s[1:]) for s in stats if s != "mean"]
    for lo in range(0, n, rows):
        hi = min(n, lo + rows)
        block = samples[rng.integers(0, m, size=(hi - lo, m))]
        col = 0
        pct = np.percentile(block, qs, axis=1).T if qs else None
        for j, s in enumerate(stats):
            if s == "mean":
                out[lo:hi, j] = block.mean(axis=1)
            else:
                out[lo:hi, j] = pct[:, col]
                col += 1
    return out


def point_estimate(groups: Sequence[np.ndarray], stats: Sequence[str]) -> np.ndarray:
    """Mean over repeats of each per-repeat statistic: shape (len(stats),)."""
    return np.array([[float(per_repeat_stat(g, s)) for s in stats] for g in groups]).mean(axis=0)


def bootstrap(groups: Sequence[np.ndarray], stats: Sequence[str], n_resamples: int = N_RESAMPLES,
              seed: int = SEED, within_only: bool = False) -> np.ndarray:
    """(n_resamples, len(stats)) bootstrap distribution of `point_estimate(groups, stats)`.

    within_only=True keeps the repeats fixed and resamples samples only: the old within-run
    interval, which ignores between-run variance (for the explicit opt-in with one repeat)."""
    groups = [np.asarray(g, dtype=np.float64) for g in groups if len(g)]
    if not groups:
        raise ValueError("no samples")
    rng = np.random.default_rng(seed)
    within = [_within(g, stats, n_resamples, rng) for g in groups]  # per repeat: (B, S)
    k = len(groups)
    if within_only:
        return np.mean(within, axis=0)
    pick = rng.integers(0, k, size=(n_resamples, k))  # which repeats each resample takes
    row = rng.integers(0, n_resamples, size=(n_resamples, k))  # and an independent within-draw of each
    stacked = np.stack(within)  # (K, B, S)
    return stacked[pick, row].mean(axis=1)


def interval(dist: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0."""
    alpha = (1 - confidence) / 2
    return np.percentile(dist, 100 * alpha, axis=0), np.percentile(dist, 100 * (1 - alpha), axis=0)


def between_repeat_cv(groups: Sequence[np.ndarray], stat: str = "p50") -> float | None:
    """Coefficient of variation of the per-repeat statistic (None with fewer than two repeats)."""
    values = np.array([float(per_repeat_stat(np.asarray(g, dtype=np.float64), stat)) for g in groups if len(g)])
    if values.size < 2 or values.mean() == 0:
        return None
    return float(values.std(ddof=1) / values.mean())
