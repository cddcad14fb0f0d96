"""`edgefer compare` of reports with op profiles: which op types got slower or faster.

Host side. An int8 graph runs other op types than its fp32 source (QLinearConv for Conv,
QLinearMul for Mul, plus QuantizeLinear/DequantizeLinear conversions), so op types are compared
by family: the int8 form counts as the float op it replaces, and the Q/DQ nodes form their own
row, which an fp32 graph does not have. Times are per-node means over each report's profiled
runs (few runs, no significance test: read small differences as noise). LiteRT profiles have no
per-op times; for them the rows compare how many ops of each type the delegate took.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

QDQ_FAMILY = "Q/DQ conversions"
# int8 (QOperator / fused QDQ) and fused float ops -> the plain float op they compute
INT8_FAMILY = {
    "QLinearConv": "Conv", "ConvInteger": "Conv", "QLinearMatMul": "MatMul", "MatMulInteger": "MatMul",
    "QGemm": "Gemm", "QLinearAdd": "Add", "QLinearMul": "Mul", "QLinearGlobalAveragePool": "GlobalAveragePool",
    "QLinearAveragePool": "AveragePool", "QLinearSigmoid": "Sigmoid", "QLinearLeakyRelu": "LeakyRelu",
    "QLinearSoftmax": "Softmax", "QLinearConcat": "Concat", "QLinearReduceMean": "ReduceMean",
    # onnxruntime's fused float forms (Conv+activation, ...) are the same family as their source op
    "FusedConv": "Conv", "NhwcFusedConv": "Conv", "FusedGemm": "Gemm", "FusedMatMul": "MatMul",
    "QuantizeLinear": QDQ_FAMILY, "DequantizeLinear": QDQ_FAMILY, "DynamicQuantizeLinear": QDQ_FAMILY,
}
NOISE = 0.05  # relative change below which a row is called "about the same"


def op_family(op_type: str) -> str:
    return INT8_FAMILY.get(op_type, op_type)


@dataclass
class OpTypeChange:
    family: str
    baseline_ms: float | None
    other_ms: float | None
    delta_ms: float | None
    ratio: float | None
    verdict: str
    baseline_types: list[str] = field(default_factory=list)
    other_types: list[str] = field(default_factory=list)


@dataclass
class OpProfileComparison:
    baseline: str
    other: str
    kind: str  # "times" | "delegation"
    rows: list[OpTypeChange]
    baseline_total_ms: float | None = None
    other_total_ms: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _by_family(op: dict[str, Any], key: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    values: dict[str, float] = {}
    types: dict[str, list[str]] = {}
    for t in op.get("op_types") or []:
        fam = op_family(t["op_type"])
        values[fam] = values.get(fam, 0.0) + float(t.get(key) or 0.0)
        types.setdefault(fam, []).append(t["op_type"])
    return values, types


def _verdict(b: float | None, o: float | None, unit: str) -> str:
    if unit != "ms":  # delegated op counts
        return "same" if (b or 0) == (o or 0) else f"{b or 0:.0f} -> {o or 0:.0f} delegated"
    if not b and not o:
        return "-"
    if not b:
        return f"only in other (+{o:.3f} ms)"
    if not o:
        return "only in baseline"
    rel = o / b - 1
    if abs(rel) < NOISE:
        return "about the same"
    return f"{'slower' if rel > 0 else 'faster'} x{o / b:.2f}"


def compare_op_profiles(base: dict[str, Any], other: dict[str, Any], base_label: str,
                        other_label: str) -> OpProfileComparison | None:
    """Per op family, other vs baseline; None if either report has no usable op profile."""
    bo, oo = base.get("op_profile"), other.get("op_profile")
    if not bo or not oo or bo.get("status") == "unavailable" or oo.get("status") == "unavailable":
        return None
    timed = bo.get("status") == "measured" and oo.get("status") == "measured"
    key = "mean_ms" if timed else "delegated"  # LiteRT: delegated op counts instead of times
    bv, bt = _by_family(bo, key)
    ov, ot = _by_family(oo, key)
    rows = []
    for fam in sorted(set(bv) | set(ov)):
        b, o = bv.get(fam), ov.get(fam)
        delta = (o or 0.0) - (b or 0.0)
        rows.append(OpTypeChange(fam, b, o, delta, o / b if b and o else None,
                                 _verdict(b, o, "ms" if timed else "ops"), bt.get(fam, []), ot.get(fam, [])))
    rows.sort(key=lambda r: -abs(r.delta_ms or 0))
    cmp = OpProfileComparison(base_label, other_label, "times" if timed else "delegation", rows,
                              bo.get("nodes_total_ms"), oo.get("nodes_total_ms"))
    if timed:
        cmp.notes.append(f"per-node mean ms over {bo.get('profiled_runs')} and {oo.get('profiled_runs')} profiled "
                         "runs; int8 ops counted as the float op they replace; no significance test")
    else:
        cmp.notes.append("no per-op times in these profiles (LiteRT); rows: ops the delegate took, per op type")
    if (base.get("environment") or {}).get("emulated") or (other.get("environment") or {}).get("emulated"):
        cmp.notes.append("EMULATED board: compare shares, not absolute times")
    return cmp


def op_profile_comparisons(items: list[tuple[str, str | None]], baseline: str) -> list[OpProfileComparison]:
    """(label, report path) of each compared report -> one comparison per non-baseline report with a profile."""
    from edgefer.report.bench import load_report

    loaded = {lab: load_report(path).model_dump(mode="json") for lab, path in items if path}
    base = loaded.get(baseline)
    if base is None:
        return []
    out = []
    for lab, rep in loaded.items():
        if lab != baseline:
            c = compare_op_profiles(base, rep, baseline, lab)
            if c is not None:
                out.append(c)
    return out


def _table_rows(c: OpProfileComparison) -> tuple[list[str], list[list[str]]]:
    unit = "ms" if c.kind == "times" else "delegated ops"

    def f(v: float | None) -> str:
        return "-" if v is None else (f"{v:.3f}" if c.kind == "times" else f"{v:.0f}")

    head = ["op family", f"{c.baseline} {unit}", f"{c.other} {unit}", "delta", "verdict", "op types (other)"]
    rows = [[r.family, f(r.baseline_ms), f(r.other_ms), f(r.delta_ms), r.verdict, ",".join(r.other_types) or "-"]
            for r in c.rows]
    if c.kind == "times":
        rows.append(["all ops", f(c.baseline_total_ms), f(c.other_total_ms),
                     f((c.other_total_ms or 0) - (c.baseline_total_ms or 0)), "", ""])
    return head, rows


def render_op_profile_comparisons(comparisons: list[OpProfileComparison], console: Any) -> None:
    from rich.table import Table

    for c in comparisons:
        head, rows = _table_rows(c)
        t = Table(title=f"op types: {c.other} vs {c.baseline}")
        for h in head:
            t.add_column(h)
        for row in rows:
            t.add_row(*row)
        console.print(t)
        for n in c.notes:
            console.print(n, style="dim", markup=False, highlight=False)


def op_profile_comparisons_markdown(comparisons: list[OpProfileComparison]) -> str:
    out = []
    for c in comparisons:
        head, rows = _table_rows(c)
        out += ["", f"**op types: {c.other} vs {c.baseline}**", "", "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head)]
        out += ["| " + " | ".join(rows_i) + " |" for rows_i in rows]
        out += [""] + [f"_{n}_" for n in c.notes]
    return "\n".join(out) + ("\n" if out else "")
