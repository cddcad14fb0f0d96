"""The figures of one cell from its repeat reports, each with its uncertainty and provenance.

Latency is the per-sample time at batch 1. Each repeat (a fresh runner process) gives its
median; with k >= 2 repeats the cell's value is the mean of those medians with a 95% t
interval over repeats (between-run variation is what a reader re-running the study would
see), widened by the target's between-session drift where its profile states one
(`bench.session_cv`, as compare does). With one repeat the interval is a bootstrap of the median over that run's samples
(within-run only, labelled so). Peak memory is the largest peak RSS of the repeats; energy
the mean per-inference energy, labelled estimated when the report says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BOOTSTRAP = 2000


def _ci_over_repeats(values: np.ndarray, session_cv: float = 0.0) -> tuple[float, float, float, str]:
    """Mean of per-repeat values with a 95% interval: Student's t over the repeats, plus the
    target's between-session drift (`bench.session_cv`: repeats run back to back cannot see it;
    edgefer.runner.hierarchical) when the profile states one."""
    from scipy import stats

    k = len(values)
    mean = float(values.mean())
    if k == 1:
        return mean, mean, mean, "one repeat"
    if not session_cv or mean <= 0:
        half = float(stats.t.ppf(0.975, k - 1) * values.std(ddof=1) / np.sqrt(k))
        return mean, mean - half, mean + half, f"mean of {k} repeat medians, 95% t interval"
    from edgefer.runner.hierarchical import log_half_width

    log_se2 = np.asarray((values.std(ddof=1) / mean) ** 2 / k)  # the repeats' spread, relative, on the log scale
    half = float(log_half_width([(log_se2, k)], session_cv ** 2))
    return (mean, mean * float(np.exp(-half)), mean * float(np.exp(half)),
            f"mean of {k} repeat medians, 95% t interval with the target's session drift ({session_cv:.1%})")


def _bootstrap_median(ms: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    meds = np.median(rng.choice(ms, size=(BOOTSTRAP, ms.size), replace=True), axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return float(lo), float(hi)


def cell_figures(out: Path, repeats: list[dict]) -> dict | None:
    """{"latency_ms", "throughput_sps", "memory_mb", "energy_mj", "emulated", ...} or None without reports."""
    from edgefer.compare.reports import per_sample_ms, session_cv

    reps, paths = [], []
    for r in repeats:
        try:
            reps.append(json.loads((out / r["report"]).read_text()))
            paths.append(r["report"])
        except (OSError, ValueError):
            continue
    if not reps:
        return None
    samples = [per_sample_ms(rep) for rep in reps]
    keep = [i for i, s in enumerate(samples) if s.size]
    if not keep:
        return None
    reps, paths, samples = [reps[i] for i in keep], [paths[i] for i in keep], [samples[i] for i in keep]
    medians = np.array([float(np.median(s)) for s in samples])
    cv = max(session_cv(rep) for rep in reps)
    value, lo, hi, method = _ci_over_repeats(medians, cv)
    if len(reps) == 1:
        lo, hi = _bootstrap_median(samples[0])
        method = "median of one repeat, 95% bootstrap interval over its samples (within-run only)"
    latency = {"value": value, "ci_low": lo, "ci_high": hi, "half_width": (hi - lo) / 2, "method": method,
               "n_repeats": len(reps), "n_samples": int(sum(s.size for s in samples)),
               "per_repeat": [{"report": p, "median_ms": float(m), "n_samples": int(s.size)}
                              for p, m, s in zip(paths, medians, samples)], "reports": paths}
    tput = np.array([1e3 / float(s.mean()) for s in samples])
    t_val, t_lo, t_hi, t_method = _ci_over_repeats(tput, cv)
    rss = [((rep.get("resources") or {}).get("peak_rss_mb"), p) for rep, p in zip(reps, paths)]
    rss = [(v, p) for v, p in rss if v is not None]
    memory = ({"value": max(v for v, _ in rss), "statistic": "max peak RSS over repeats",
               "reports": [p for _, p in rss]} if rss else None)
    energies = [(rep.get("energy") or {}, p) for rep, p in zip(reps, paths)]
    usable = [(e, p) for e, p in energies if e.get("status") in ("measured", "estimated")
              and e.get("energy_per_inference_j") is not None]
    energy = None
    if usable:
        vals = np.array([e["energy_per_inference_j"] * 1e3 for e, _ in usable])
        e_val, e_lo, e_hi, e_method = _ci_over_repeats(vals)
        status = "estimated" if any(e["status"] == "estimated" for e, _ in usable) else "measured"
        energy = {"value": e_val, "ci_low": e_lo, "ci_high": e_hi, "half_width": (e_hi - e_lo) / 2,
                  "status": status, "method": e_method, "meter": usable[0][0].get("meter"),
                  "reports": [p for _, p in usable]}
    reasons = sorted({e.get("reason") for e, _ in energies if e.get("status") == "unavailable" and e.get("reason")})
    env = [rep.get("environment") or {} for rep in reps]
    return {
        "latency_ms": latency,
        "throughput_sps": {"value": t_val, "ci_low": t_lo, "ci_high": t_hi, "half_width": (t_hi - t_lo) / 2,
                           "method": t_method, "reports": paths},
        "memory_mb": memory,
        "energy_mj": energy,
        "energy_unavailable": reasons[0] if reasons and energy is None else None,
        "emulated": any(e.get("emulated") for e in env),
        "emulator": next((e.get("emulator") for e in env if e.get("emulator")), None),
        "runtime": " ".join(str(x) for x in ((reps[0].get("runtime") or {}).get("name"),
                                             (reps[0].get("runtime") or {}).get("version")) if x),
        "machine": env[0].get("machine"), "cpu_model": env[0].get("cpu_model"),
    }
