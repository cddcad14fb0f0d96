"""Two-level (hierarchical) bootstrap over repeats and the samples within them (numpy only).

Samples of one process are not independent draws: process start, memory layout, frequency and
neighbours shift a whole repeat. Kalibera & Jones ("Rigorous Benchmarking in Reasonable Time",
ISMM 2013) resample at each level that varies: pick repeats with replacement, then samples with
replacement within each picked repeat, and compute the statistic of that. Here the statistic of a
report is the mean over its repeats of a per-repeat statistic (a percentile or the mean), so the
between-repeat variance enters every interval.

Intervals: the bootstrap gives each statistic's standard error (log scale); with few repeats the
interval uses Student's t on the repeats' degrees of freedom (`t_interval`, `ratio_interval`), since
a plain percentile interval of a bootstrap over five repeats covers ~85% instead of 95%.

The session term: repeats of one command run back to back, so they cannot see a machine whose
speed drifts over minutes (other tenants of a VM host, thermal state). Two benches minutes apart
then differ by more than their repeats say. A target profile states that drift as `session_cv`
(the coefficient of variation of the p50 between separate benches, measured with
benchmarks/aa_false_alarms.py); it is added as a known variance to every interval.

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


# two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (device side has no scipy)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: float) -> float:
    """Student's t 97.5% quantile (linear in df between table entries; 1.96 in the limit)."""
    if df >= 30:
        return 1.96 + (2.042 - 1.96) * 30 / df
    lo = max(1, int(df))
    hi = min(30, lo + 1)
    frac = df - lo
    return _T975[lo - 1] + (_T975[hi - 1] - _T975[lo - 1]) * frac


def log_se(dist: np.ndarray, k: int) -> np.ndarray:
    """Standard error, on the log scale, of the statistic whose bootstrap distribution is `dist`
    (resamples along axis 0). The bootstrap of a mean over k repeats underestimates its spread by
    sqrt((k-1)/k); that is undone here."""
    return np.log(dist).std(axis=0, ddof=1) * np.sqrt(k / max(k - 1, 1))


def log_half_width(parts: list[tuple[np.ndarray, int]], known_var: float) -> np.ndarray:
    """95% half-width on the log scale: bootstrap variances with their degrees of freedom (k-1)
    plus a known variance (the session term), combined by Welch-Satterthwaite for Student's t."""
    boot = sum(v for v, _ in parts)
    total = boot + known_var
    denom = sum(v ** 2 / max(k - 1, 1) for v, k in parts)
    df = np.where(denom > 0, total ** 2 / np.where(denom > 0, denom, 1), 1e9)
    t = np.array([t975(float(d)) for d in np.atleast_1d(df)]).reshape(np.shape(total))
    return t * np.sqrt(total)


def t_interval(point: np.ndarray, dist: np.ndarray, k: int, session_cv: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of one report's statistic: the two-level bootstrap's standard error with
    Student's t on k-1 degrees of freedom (percentile intervals of a bootstrap over a handful of
    repeats are too narrow: they cover ~85%, not 95%, at k=5), plus the session term."""
    half = log_half_width([(log_se(dist, k) ** 2, k)], session_cv ** 2)
    return point * np.exp(-half), point * np.exp(half)


def ratio_interval(point_ratio: np.ndarray, dist_base: np.ndarray, k_base: int, dist_other: np.ndarray,
                   k_other: int, session_cv_base: float = 0.0,
                   session_cv_other: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """95% interval of other/base: log-scale standard errors from each report's two-level
    bootstrap and each report's session term, combined, Welch-Satterthwaite degrees of freedom."""
    half = log_half_width([(log_se(dist_base, k_base) ** 2, k_base), (log_se(dist_other, k_other) ** 2, k_other)],
                       session_cv_base ** 2 + session_cv_other ** 2)
    return point_ratio * np.exp(-half), point_ratio * np.exp(half)


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
