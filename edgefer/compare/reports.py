"""Side-by-side comparison of bench reports, with statistics fit for a CI gate.

    cmp = compare_reports(["a.json", "b.json"], baseline="a.json", threshold=0.05)
    cmp.table()         # rich Table;  cmp.markdown() -> str;  cmp.to_dict() -> JSON-able
    cmp.check_gate()    # raises GateFailed on a significant regression beyond the threshold

Latency is compared per sample (ms per batch / batch size), repeat by repeat. A report's p50
(p90, p99, mean) is the mean over its repeats of each repeat's p50; its standard error comes from a
two-level bootstrap: resample repeats, then samples within each (edgefer/runner/hierarchical.py,
after Kalibera & Jones, ISMM 2013), the two reports independently; the ratio's 95% interval
combines both on the log scale with Student's t (Welch degrees of freedom over the repeats). So the
between-run variance, which dominates on real machines, is in every interval.
- "faster"/"slower" only when the ratio's interval excludes 1;
- the gate (`threshold`) fails only when the slowdown's lower bound exceeds the threshold:
  significantly worse *by more than* T;
- with one repeat on either side the between-run variance is unknown: latency gets no verdict, and
  a gate on it is an error (exit 2) unless `within_run=True` asks for the within-run interval.
The p-value is a Mann-Whitney U test of the per-repeat p50s (pooled samples would be
anti-conservative). Throughput gets the interval of the ratio of mean times. Energy differences
count when they exceed the combined uncertainty; artifact size is exact. Peak RSS: shown, never judged.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from edgefer.compare.gate import Gated, check_threshold
from edgefer.compare.instructions import add_instruction_counts
from edgefer.compare.like_for_like import environment_warnings, workload_warnings
from edgefer.compare.metrics import METRICS, MetricComparison, ReportSummary, format_p, regression_excess
from edgefer.errors import EdgeferError

CONFIDENCE = 0.95
MIN_SAMPLES = 5  # below this no test is run: the verdict says so
_SEED = 20261121  # fixed: the same reports always give the same intervals


@dataclass
class Comparison(Gated):
    baseline: str
    reports: list[ReportSummary]
    # label -> the metric comparisons of that report vs the baseline (baseline itself absent)
    metrics: dict[str, list[MetricComparison]]
    warnings: list[str]
    threshold: float | None
    regressions: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)  # latency pairs with too few repeats to judge
    samples_ms: dict[str, list[float]] = field(default_factory=dict, repr=False)  # per sample, for plots
    UNDECIDED = ("not enough repeats to judge latency", "bench with --repeat >= 2 (the default), "
                 "or pass --within-run to judge on within-run variance only")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("samples_ms")
        d["kind"] = "edgefer.compare"
        return d

    def table(self):
        from rich.markup import escape
        from rich.table import Table

        t = Table(title=f"edgefer compare (baseline: {self.baseline})", show_lines=False)
        t.add_column("metric")
        for r in self.reports:
            t.add_column(r.label + (" (baseline)" if r.label == self.baseline else ""), justify="right")
        for key, (name, unit, _lower, digits) in METRICS.items():
            row = [escape(f"{name} [{unit}]")]
            for r in self.reports:
                row.append(self._cell(r, key, digits, rich=True))
            t.add_row(*row)
        return t

    def markdown(self) -> str:
        head = ["metric"] + [r.label + (" (baseline)" if r.label == self.baseline else "") for r in self.reports]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for key, (name, unit, _lower, digits) in METRICS.items():
            cells = [f"{name} [{unit}]"] + [self._cell(r, key, digits, rich=False) for r in self.reports]
            lines.append("| " + " | ".join(cells) + " |")
        out = "\n".join(lines) + "\n"
        out += ("\nRatios are value / baseline; [lo, hi] is the 95% interval of the ratio from a two-level bootstrap "
                "(repeats, then samples); p is the Mann-Whitney U p-value of the per-repeat p50s.\n")
        if self.warnings:
            out += "\n" + "\n".join(f"- warning: {w}" for w in self.warnings) + "\n"
        if self.regressions:
            out += "\n" + "\n".join(f"- **regression**: {r}" for r in self.regressions) + "\n"
        return out

    def _cell(self, r: ReportSummary, key: str, digits: int, rich: bool) -> str:
        v = r.values.get(key)
        if key == "energy_j" and v is None:
            return r.energy_status or "—"
        text = "—" if v is None else f"{v:.{digits}f}"
        if r.label == self.baseline:
            return text
        m = next((m for m in self.metrics.get(r.label, []) if m.metric == key), None)
        if m is None or m.ratio is None:
            return text
        text += f" (x{m.ratio:.3f}"
        if m.ci_low is not None:
            text += f" [{m.ci_low:.3f}, {m.ci_high:.3f}]"
        if m.p_value is not None:
            text += f" {format_p(m.p_value)}"
        text += ")"
        if m.verdict and not m.verdict.startswith("n/a"):
            text += f" {m.verdict}"
        if rich:
            from rich.markup import escape

            text = escape(text)
        if rich and m.worse:
            text = f"[red]{text}[/red]"
        elif rich and m.verdict in ("faster", "better", "lower", "smaller"):
            text = f"[green]{text}[/green]"
        return text


def _load(item: str | Path | dict) -> tuple[dict, str | None]:
    """A report as a plain dict, validated by edgefer.report.bench (one-line EdgeferError if bad)."""
    from edgefer.report.bench import load_report, validate_report

    if isinstance(item, dict):
        rep, path = validate_report(item), None
    else:
        path = str(item)
        rep = load_report(path)
    if not rep.timing.samples_ns:
        raise EdgeferError(f"{path or 'report'} has no timing samples: nothing to compare")
    return rep.model_dump(mode="json"), path


def _batch(rep: dict) -> int:
    return int((rep.get("settings") or {}).get("batch_size") or 1)


def per_sample_ms(rep: dict) -> np.ndarray:
    return np.asarray(rep["timing"]["samples_ns"], dtype=np.float64) / 1e6 / _batch(rep)


def _summary(rep: dict, label: str, path: str | None, groups: list[np.ndarray]) -> ReportSummary:
    """`groups` is repeat_groups(rep), computed once by the caller; values are means over repeats."""
    from edgefer.runner.hierarchical import point_estimate

    p50, p90, p99, mean = point_estimate(groups, _STATS)
    ms = np.concatenate(groups)
    energy = rep.get("energy") or {}
    art = rep.get("artifact") or {}
    env = rep.get("environment") or {}
    size = art.get("size_bytes")
    return ReportSummary(
        label=label,
        path=path,
        model=(rep.get("model") or {}).get("name"),
        artifact=" ".join(str(x) for x in (art.get("format"), art.get("precision")) if x) or None,
        emulated=env.get("emulated"),
        batch_size=_batch(rep),
        n_samples=int(ms.size),
        values={
            "p50_ms": float(p50),
            "p90_ms": float(p90),
            "p99_ms": float(p99),
            "throughput_sps": float(1e3 / mean),
            "peak_rss_mb": (rep.get("resources") or {}).get("peak_rss_mb"),
            "energy_j": energy.get("energy_per_inference_j") if energy.get("status") in ("measured", "estimated") else None,
            "size_mb": size / 1e6 if size else None,
        },
        energy_status=energy.get("status"),
        energy_reason=energy.get("reason"),
        repeats=len(groups),
    )


def _labels(reps: list[tuple[dict, str | None]]) -> list[str]:
    labels = []
    for i, (rep, path) in enumerate(reps):
        labels.append(rep.get("label") or (Path(path).stem if path else None) or f"report{i + 1}")
    for i, lab in enumerate(labels):  # disambiguate repeated labels
        if labels.count(lab) > 1:
            labels[i] = f"{lab}#{i + 1}"
    return labels


def _scipy_stats():
    from scipy import stats  # a core dependency; imported lazily to keep CLI start-up fast

    return stats


_STATS = ("p50", "p90", "p99", "mean")


def repeat_groups(rep: dict) -> list[np.ndarray]:
    """Per-sample ms, one array per repeat (a schema "1" report is one group)."""
    b = _batch(rep)
    reps = [r for r in (rep.get("repeats") or []) if r.get("samples_ns")]
    if not reps:
        return [per_sample_ms(rep)]
    return [np.asarray(r["samples_ns"], dtype=np.float64) / 1e6 / b for r in reps]


def session_cv(rep: dict) -> float:
    """The target's between-session drift recorded in a report (0 when none)."""
    between = (rep.get("statistics") or {}).get("between_repeats") or {}
    return float(between.get("session_cv") or 0.0)


def _latency_metrics(bg: list[np.ndarray], og: list[np.ndarray], b: ReportSummary, o: ReportSummary,
                     within_run: bool, cvs: tuple[float, float] = (0.0, 0.0)) -> list[MetricComparison]:
    from edgefer.runner.hierarchical import bootstrap, interval, point_estimate, ratio_interval

    pb, po = point_estimate(bg, _STATS), point_estimate(og, _STATS)
    keys = ("p50_ms", "p90_ms", "p99_ms")
    out = [MetricComparison(k, "ms", float(pb[i]), float(po[i]), float(po[i] / pb[i])) for i, k in enumerate(keys)]
    tp = MetricComparison("throughput_sps", "samples/s", float(1e3 / pb[3]), float(1e3 / po[3]), float(pb[3] / po[3]))
    out.append(tp)
    enough_samples = min(sum(g.size for g in bg), sum(g.size for g in og)) >= MIN_SAMPLES
    hierarchical = len(bg) >= 2 and len(og) >= 2
    if not enough_samples or not (hierarchical or within_run):
        why = (f"fewer than {MIN_SAMPLES} samples" if not enough_samples else
               f"one repeat in {b.label if len(bg) < 2 else o.label}: between-run variance unknown")
        for m in out:
            m.verdict, m.undecided = f"n/a ({why})", True
        return out
    db = bootstrap(bg, _STATS, seed=_SEED, within_only=not hierarchical)
    do = bootstrap(og, _STATS, seed=_SEED + 1, within_only=not hierarchical)
    if hierarchical:  # bootstrap standard errors, Student's t over the repeats (small-k coverage)
        lo, hi = ratio_interval(po / pb, db, len(bg), do, len(og), *cvs)
        tlo, thi = 1 / hi[3], 1 / lo[3]  # throughput ratio = mean time ratio inverted
    else:  # explicit within-run opt-in: percentile interval of the sample bootstrap
        lo, hi = interval(do / db, CONFIDENCE)
        tlo, thi = interval(db[:, 3] / do[:, 3], CONFIDENCE)
    method = "repeats" if hierarchical else "within-run only (between-run variance ignored)"
    for i, m in enumerate(out[:3]):
        m.ci_low, m.ci_high, m.method = float(lo[i]), float(hi[i]), method
        if m.ci_low > 1 or m.ci_high < 1:
            m.verdict, m.worse = ("slower", True) if m.ratio > 1 else ("faster", False)
        else:
            m.verdict = "no significant change"
    tp.ci_low, tp.ci_high, tp.method = float(tlo), float(thi), method
    if tp.ci_low > 1 or tp.ci_high < 1:
        tp.verdict, tp.worse = ("better", False) if tp.ratio > 1 else ("worse", True)
    else:
        tp.verdict = "no significant change"
    if hierarchical:
        p50b = [float(np.percentile(g, 50)) for g in bg]
        p50o = [float(np.percentile(g, 50)) for g in og]
        out[0].p_value = float(_scipy_stats().mannwhitneyu(p50o, p50b, alternative="two-sided").pvalue)
    else:
        out[0].p_value = float(_scipy_stats().mannwhitneyu(og[0], bg[0], alternative="two-sided").pvalue)
    return out


def _energy_metric(brep: dict, orep: dict, b: ReportSummary, o: ReportSummary) -> MetricComparison:
    m = MetricComparison("energy_j", "J", b.values["energy_j"], o.values["energy_j"], None)
    if m.baseline is None or m.value is None:
        missing = b if m.baseline is None else o
        m.verdict = f"n/a ({missing.label}: {missing.energy_status or 'no energy'}" + (
            f", {missing.energy_reason})" if missing.energy_reason else ")")
        return m
    m.ratio = m.value / m.baseline if m.baseline else None
    if b.energy_status != o.energy_status:
        m.note = f"{b.energy_status} vs {o.energy_status}"
    ub = (brep.get("energy") or {}).get("uncertainty_j")
    uo = (orep.get("energy") or {}).get("uncertainty_j")
    if ub is None or uo is None:
        m.verdict = "n/a (no uncertainty reported)"
        return m
    if abs(m.value - m.baseline) > math.hypot(ub, uo):
        m.verdict, m.worse = ("higher", True) if m.value > m.baseline else ("lower", False)
    else:
        m.verdict = "no significant change"
    return m


def _exact_metric(key: str, unit: str, b: ReportSummary, o: ReportSummary, judged: bool) -> MetricComparison:
    m = MetricComparison(key, unit, b.values[key], o.values[key], None)
    if m.baseline and m.value is not None:
        m.ratio = m.value / m.baseline
    if not judged:
        m.verdict = "n/a (one reading per run)"
    elif m.ratio is not None:
        m.verdict = "same" if m.ratio == 1 else ("larger" if m.ratio > 1 else "smaller")
        m.worse = m.ratio > 1
    return m


def _pick_baseline(baseline: str | int | None, labels: list[str], paths: list[str | None]) -> int:
    if baseline is None:
        return 0
    if isinstance(baseline, int):
        if not 0 <= baseline < len(labels):
            raise EdgeferError(f"--baseline index {baseline} out of range")
        return baseline
    for i, (lab, path) in enumerate(zip(labels, paths)):
        if baseline == lab or (path and (baseline == path or os.path.abspath(baseline) == os.path.abspath(path))):
            return i
    raise EdgeferError(f"--baseline {baseline!r} is not one of the compared reports",
                       hint=f"use a path or one of: {', '.join(labels)}")


def compare_reports(
    reports: Iterable[str | Path | dict],
    baseline: str | int | None = None,
    threshold: float | None = None,
    within_run: bool = False,
) -> Comparison:
    """Compare bench reports (paths or report dicts) against a baseline (default: the first).

    `threshold` (e.g. 0.05): a metric whose interval says it is worse by more than this fraction
    is listed in `regressions`; `check_gate()` turns that into GateFailed. `within_run=True`
    judges reports with a single repeat on their within-run interval (explicit opt-in: that
    interval ignores between-run variance, see the module docstring).
    """
    loaded = [_load(r) for r in reports]
    if len(loaded) < 2:
        raise EdgeferError("compare needs at least two reports")
    check_threshold(threshold)
    labels = _labels(loaded)
    paths = [p for _, p in loaded]
    bi = _pick_baseline(baseline, labels, paths)
    groups = [repeat_groups(rep) for rep, _ in loaded]  # once per report
    summaries = [_summary(rep, lab, path, g) for (rep, path), lab, g in zip(loaded, labels, groups)]
    brep, bsum = loaded[bi][0], summaries[bi]
    cmp = Comparison(baseline=labels[bi], reports=summaries, metrics={}, warnings=[], threshold=threshold)
    cmp.samples_ms = {lab: np.concatenate(g).tolist() for lab, g in zip(labels, groups)}
    for i, ((rep, _), osum) in enumerate(zip(loaded, summaries)):
        if i == bi:
            continue
        rows = _latency_metrics(groups[bi], groups[i], bsum, osum, within_run, (session_cv(brep), session_cv(rep)))
        rows.append(_exact_metric("peak_rss_mb", "MB", bsum, osum, judged=False))
        rows.append(_energy_metric(brep, rep, bsum, osum))
        rows.append(_exact_metric("size_mb", "MB", bsum, osum, judged=True))
        cmp.metrics[osum.label] = rows
        cmp.warnings += environment_warnings(brep, rep, bsum.label, osum.label)
        cmp.warnings += workload_warnings(brep, rep, bsum.label, osum.label)
        for lab, s in ((bsum.label, bsum), (osum.label, osum)):
            if s.n_samples < MIN_SAMPLES:
                cmp.warnings.append(f"{lab}: only {s.n_samples} samples, too few for a test")
            if s.repeats < 2:
                cmp.warnings.append(f"{lab}: {s.repeats} repeat, so its between-run variance is unknown"
                                    + (" (judged on within-run variance only, as asked)" if within_run else
                                       "; latency gets no verdict (bench with --repeat >= 2)"))
        if threshold is not None:
            for m in rows:
                if m.undecided and m.metric == "p50_ms":
                    cmp.undecided.append(f"{osum.label} vs {bsum.label}: {m.verdict[5:-1]}")
                excess = regression_excess(m)
                if m.worse and cmp.regressed(excess):
                    at_least = "at least " if m.ci_low is not None else ""
                    cmp.regressions.append(f"{osum.label} {METRICS[m.metric][0]} {m.verdict} by {at_least}{excess:.1%} "
                                           f"(x{m.ratio:.3f} vs {bsum.label})")
    add_instruction_counts(cmp, [rep for rep, _ in loaded], bi)  # exact counts: ratio and gate, no CI
    cmp.warnings = list(dict.fromkeys(cmp.warnings))
    return cmp
