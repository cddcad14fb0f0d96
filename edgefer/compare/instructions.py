"""Instruction counts in `edgefer compare`: an exact metric (docs/instruction-counts.md).

The emulated board's guest instruction count per inference is deterministic (same artifact,
settings and board: the same count), so two reports compare by their plain ratio: no
confidence interval, no test. With a threshold, a count that grew by more than it is a
regression; that gate cannot be tripped by a noisy CI machine.
"""

from __future__ import annotations

from typing import Any

from edgefer.compare.gate import excess
from edgefer.compare.metrics import METRICS, MetricComparison

KEY = "instructions"
METRIC = METRICS[KEY]  # name, unit, lower is better, digits
# Facts that must match for two counts to be like for like.
_SAME = (("cpu_view", "CPU view"), ("mode", "counting mode"), ("qemu", "QEMU version"), ("batch_size", "batch size"))


def per_inference(rep: dict[str, Any]) -> float | None:
    return ((rep.get("instructions") or {}).get("per_inference")) or None


def add_instruction_counts(cmp: Any, reps: list[dict[str, Any]], baseline: int) -> None:
    """Add the instruction-count row (values, ratios, verdicts, warnings, regressions) to a Comparison."""
    counts = [per_inference(r) for r in reps]
    if not any(c is not None for c in counts):
        return
    for summary, value in zip(cmp.reports, counts):
        summary.values[KEY] = value
    base, bsum = counts[baseline], cmp.reports[baseline]
    for i, (rep, osum) in enumerate(zip(reps, cmp.reports)):
        if i == baseline:
            continue
        m = MetricComparison(KEY, METRIC[1], base, counts[i], None)
        if base is None or counts[i] is None:
            missing = bsum if base is None else osum
            m.verdict = f"n/a ({missing.label}: not counted; bench --count-instructions on an emulated target)"
        else:
            m.ratio = counts[i] / base
            m.verdict = "same" if m.ratio == 1 else ("more" if m.ratio > 1 else "fewer")
            m.worse = m.ratio > 1
            m.note = "exact count: ratio without a confidence interval"
            cmp.warnings += _unlike(reps[baseline], rep, bsum.label, osum.label)
            if cmp.regressed(excess(m.ratio)):  # an exact count: judged on its ratio
                cmp.regressions.append(f"{osum.label} {METRIC[0]} more by {m.ratio - 1:.2%} "
                                       f"(x{m.ratio:.4f} vs {bsum.label}, exact count)")
        cmp.metrics.setdefault(osum.label, []).append(m)


def _unlike(base: dict[str, Any], other: dict[str, Any], bl: str, ol: str) -> list[str]:
    b, o = base.get("instructions") or {}, other.get("instructions") or {}
    return [f"{ol} vs {bl}: instruction counts from a different {what} ({o.get(key)!r} vs {b.get(key)!r})"
            for key, what in _SAME if b.get(key) != o.get(key)]
