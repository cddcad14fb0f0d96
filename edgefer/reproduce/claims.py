"""The published figures beside ours, and the paper's claims checked against what we measured
(latency claims with the statistics of edgefer.compare.reports)."""

from __future__ import annotations

from pathlib import Path

from edgefer.reproduce.papers import Paper
from edgefer.reproduce.records import ClaimCheck, Row, flops_convention


def attach_published(row: Row, pm, convention: str | None) -> None:
    """Attach each published figure with ours/published (in the paper's convention for FLOPs)."""
    ours = {
        "params": row.params,
        "flops": (row.macs if convention == "MACs" else row.flops) if row.macs is not None else None,
        "throughput": row.throughput_sps,
        "energy": row.energy_j,
        "model_size": row.size_bytes / 1e6 if row.size_bytes else None,
    }
    for f in pm.figures:
        base = f.base_value()
        if f.metric == "latency":  # like for like: the paper's mean against our mean, else our median
            mine, ours_stat = (row.mean_ms, "mean") if f.statistic == "mean" else (row.p50_ms, "p50")
        else:
            mine, ours_stat = ours[f.metric], None
        row.published.setdefault(f.metric, []).append({
            "printed": f.printed(), "value": base, "convention": f.convention, "setting": f.setting,
            "dataset": f.dataset, "source": f.source.cite(), "quote": f.source.quote,
            "ours": mine, "ours_statistic": ours_stat, "ratio": (mine / base) if mine is not None and base else None,
        })


def paper_convention(paper: Paper, profiles: dict[str, dict]) -> str | None:
    votes = []
    for pm in paper.models:
        prof = profiles.get(pm.zoo)
        for f in pm.figures_for("flops"):
            if prof:
                votes.append(flops_convention(f.base_value(), prof["macs"], prof["flops"]))
    if not votes:
        return None
    return max(set(votes), key=votes.count)


def check_claims(paper: Paper, rows: list[Row], profiles: dict[str, dict], out: Path) -> list[ClaimCheck]:
    from edgefer.compare.reports import compare_reports

    checks = []
    by = {(r.model, r.format, r.precision): r for r in rows}
    series = sorted({(r.format, r.precision) for r in rows if r.format})
    for c in paper.claims:
        base = dict(id=c.id, statement=c.statement, source=c.source.cite(), metric=c.metric, subject=c.subject,
                    reference=c.reference, direction=c.direction, expected_ratio=c.expected_ratio)
        if c.metric in ("params", "flops"):
            ps, pr = profiles.get(c.subject), profiles.get(c.reference)
            chk = ClaimCheck(**base, series=None)
            if not ps or not pr:
                chk.outcome = "not checked (model could not be profiled)"
            else:
                key = "params" if c.metric == "params" else "macs"  # FLOPs = 2 x MACs: same ratio
                chk.measured_ratio = ps[key] / pr[key]
                chk.outcome = outcome(c.direction, chk.measured_ratio, significant=chk.measured_ratio != 1)
            checks.append(chk)
            continue
        if c.metric != "latency":
            checks.append(ClaimCheck(**base, series=None, outcome=f"not checked (metric {c.metric})"))
            continue
        for fmt, prec in series:
            chk = ClaimCheck(**base, series=f"{fmt} {prec}")
            rs, rr = by.get((c.subject, fmt, prec)), by.get((c.reference, fmt, prec))
            if not (rs and rr and rs.report and rr.report and not rs.error and not rr.error):
                chk.outcome = "not checked (a model of the claim has no measurement)"
                checks.append(chk)
                continue
            cmp = compare_reports([out / rr.report, out / rs.report])
            m = next(m for m in next(iter(cmp.metrics.values())) if m.metric == "p50_ms")
            chk.measured_ratio, chk.ci_low, chk.ci_high, chk.p_value = m.ratio, m.ci_low, m.ci_high, m.p_value
            significant = m.verdict in ("faster", "slower")
            # the same statistics as compare: repeats, two-level bootstrap; one repeat is not judged
            chk.outcome = (f"not judged ({m.verdict[5:-1]})" if m.undecided
                           else outcome(c.direction, m.ratio, significant))
            chk.emulated = bool(rs.emulated or rr.emulated)
            checks.append(chk)
    return checks


def outcome(direction: str, ratio: float, significant: bool) -> str:
    up = ratio > 1
    if direction in ("lower", "higher"):
        if not significant:
            return "not confirmed (no significant difference)"
        return "holds" if up == (direction == "higher") else "contradicted"
    # not_higher / not_lower: only a significant change the wrong way contradicts it
    wrong = up if direction == "not_higher" else not up
    return "contradicted" if significant and wrong else "holds"
