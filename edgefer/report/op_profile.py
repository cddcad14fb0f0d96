"""Report sections `op_profile` (device-measured, per op) and `roofline` (host-computed): schema and rendering.

Host side. The runner writes op_profile (edgefer/runner/opprofile/); the host adds roofline
(edgefer/bench/roofline.py). Both are optional fields of `edgefer.report.bench.Report` and versioned on
their own, so a report without them stays schema "1".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TOP_NODES = 10


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpNode(_M):
    name: str
    op_type: str
    run_order: int
    provider: str | None = None  # onnxruntime execution provider; LiteRT: "XNNPACK" or "builtin"
    partition: int | None = None  # LiteRT: delegate partition number, None = built-in kernels
    precision: Literal["float", "int8", "qdq"]
    input_shapes: list[list[int]] = Field(default_factory=list)
    input_dtypes: list[str] = Field(default_factory=list)
    output_shapes: list[list[int]] = Field(default_factory=list)
    mean_ms: float | None = None  # None: the runtime has no per-op timer
    p50_ms: float | None = None
    share: float | None = None  # of the summed per-node mean times


class OpTypeRow(_M):
    op_type: str
    count: int
    mean_ms: float | None = None
    share: float | None = None
    providers: list[str] = Field(default_factory=list)
    delegated: int | None = None  # LiteRT: ops of this type the delegate took
    builtin: int | None = None


class FloatIsland(_M):
    nodes: list[str]
    op_types: list[str]
    compute_ms: float
    convert_ms: float  # the Q/DQ nodes right around it
    share: float


class Quantization(_M):
    quantize_nodes: int
    dequantize_nodes: int
    qdq_ms: float
    qdq_share: float
    int8_ms: float
    float_island_ms: float
    float_island_share: float
    float_islands: list[FloatIsland]


class Delegation(_M):
    delegate: str | None = None
    partitions: int
    ops_total: int
    ops_delegated: int
    ops_builtin: int


class OpProfile(_M):
    version: Literal["1"]
    runtime: str | None = None
    runtime_version: str | None = None
    status: Literal["measured", "partitions_only", "unavailable"]
    reason: str | None = None
    method: str | None = None
    profiled_runs: int  # separate from the timed runs: latency statistics never include them
    warmup_runs: int = 0
    nodes_total_ms: float | None = None
    model_run_mean_ms: float | None = None
    nodes: list[OpNode] = Field(default_factory=list)
    op_types: list[OpTypeRow] = Field(default_factory=list)
    quantization: Quantization | None = None
    delegation: Delegation | None = None


class RooflineOp(_M):
    name: str
    op_type: str
    macs: int
    mean_ms: float
    achieved_gmacs: float
    fraction_of_peak: float | None = None
    input_shapes: list[list[int]] = Field(default_factory=list)


class Roofline(_M):
    version: Literal["1"]
    label: str
    model_macs: int | None = None
    batch_size: int = 1
    p50_ms: float | None = None
    achieved_gmacs: float | None = None
    precision: str
    cores_used: int | None = None
    cores_note: str | None = None
    peak_gmacs: float | None = None
    peak_basis: str | None = None
    peak_sources: list[str] = Field(default_factory=list)
    fraction_of_peak: float | None = None
    reason: str | None = None
    ops: list[RooflineOp] = Field(default_factory=list)


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def roofline_text(r: Roofline | None) -> str | None:
    """One line for the report summary."""
    if r is None:
        return None
    if r.achieved_gmacs is None:
        return f"- ({r.reason})" if r.reason else "-"
    text = f"{r.achieved_gmacs:.2f} GMAC/s"
    if r.fraction_of_peak is not None:
        text += (f" = {_pct(r.fraction_of_peak)} of {r.peak_gmacs:.1f} GMAC/s {r.precision} peak "
                 f"({r.peak_basis}; {r.label})")
    elif r.reason:
        text += f" (no peak: {r.reason})"
    return text


def op_profile_header(op: OpProfile, emulated: bool) -> str:
    where = " on an EMULATED board (shares, not real-hardware times)" if emulated else ""
    if op.status == "unavailable":
        return f"op profile unavailable: {op.reason}"
    head = f"op profile ({op.runtime} {op.runtime_version or ''}, {op.method}){where}: "
    if op.status == "measured":
        head += f"{op.profiled_runs} profiled run(s) after {op.warmup_runs} warm-up, separate from the timed runs"
    else:
        head += "delegate partitions only, no profiled runs"
    if op.nodes_total_ms is not None:
        head += f"; per-node sum {op.nodes_total_ms:.3f} ms/run"
        if op.model_run_mean_ms is not None:
            head += f", model_run {op.model_run_mean_ms:.3f} ms"
    if op.delegation is not None:
        d = op.delegation
        head += (f"; {d.delegate or 'no delegate'}: {d.ops_delegated}/{d.ops_total} ops delegated in "
                 f"{d.partitions} partition(s), {d.ops_builtin} on built-in kernels")
    if op.status == "partitions_only":
        head += f". Per-op times: unavailable ({op.reason})"
    return head


def op_tables(op: OpProfile, roofline: Roofline | None = None) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) tables: top nodes, per op type, float islands, per-op roofline."""
    tables = []
    timed = op.status == "measured"
    nodes = sorted(op.nodes, key=lambda n: -(n.mean_ms or 0)) if timed else [n for n in op.nodes if n.partition is None]
    if nodes:
        title = f"top {min(TOP_NODES, len(nodes))} ops by time" if timed else "ops left on built-in kernels"
        # providers are in the per-type table; the first input's shape says which layer it is
        head = ["node", "op type", "precision", "input"] + (["mean ms", "p50 ms", "share"] if timed else [])
        rows = [[n.name, n.op_type, n.precision, "x".join(map(str, n.input_shapes[0])) if n.input_shapes else "-"]
                + ([_ms(n.mean_ms), _ms(n.p50_ms), _pct(n.share)] if timed else []) for n in nodes[:TOP_NODES]]
        tables.append((title, head, rows))
    if op.op_types:
        if timed:
            rows = [[t.op_type, str(t.count), _ms(t.mean_ms), _pct(t.share), ",".join(t.providers)] for t in op.op_types]
            tables.append(("time per op type", ["op type", "nodes", "mean ms", "share", "providers"], rows))
        else:
            rows = [[t.op_type, str(t.count), str(t.delegated), str(t.builtin)] for t in op.op_types]
            tables.append(("delegation per op type", ["op type", "ops", "delegated", "built-in"], rows))
    q = op.quantization
    if q is not None:
        rows = [["Q/DQ nodes", f"{q.quantize_nodes} Q + {q.dequantize_nodes} DQ", _ms(q.qdq_ms), _pct(q.qdq_share)],
                ["float islands", str(len(q.float_islands)), _ms(q.float_island_ms), _pct(q.float_island_share)],
                ["int8 compute", "-", _ms(q.int8_ms), "-"]]
        rows += [[f"  island {k + 1}", "+".join(i.op_types), _ms(i.compute_ms + i.convert_ms), _pct(i.share)]
                 for k, i in enumerate(q.float_islands[:5])]
        tables.append(("int8 graph: conversions and float islands", ["what", "count / ops", "ms", "share"], rows))
    if roofline is not None and roofline.ops:
        rows = [[o.name, o.op_type, f"{o.macs / 1e6:.2f}", _ms(o.mean_ms), f"{o.achieved_gmacs:.2f}",
                 _pct(o.fraction_of_peak)] for o in roofline.ops]
        tables.append((f"heaviest ops vs peak ({roofline.label})",
                       ["node", "op type", "MMACs", "mean ms", "GMAC/s", "of peak"], rows))
    return tables


def render_op_profile(report: Any, console: Any) -> None:
    """rich output of a report's op profile (called by edgefer.report.bench.render)."""
    from rich.table import Table

    op = report.op_profile
    if op is None:
        return
    console.print(op_profile_header(op, bool(report.environment.emulated)), markup=False, highlight=False)
    for title, header, rows in op_tables(op, report.roofline):
        table = Table(title=title)
        for h in header:
            table.add_column(h, justify="right" if h in ("mean ms", "p50 ms", "share", "ms", "GMAC/s", "of peak",
                                                          "MMACs", "nodes", "ops") else "left")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def op_profile_markdown(report: Any) -> str:
    op = report.op_profile
    if op is None:
        return ""
    out = ["", op_profile_header(op, bool(report.environment.emulated)), ""]
    for title, header, rows in op_tables(op, report.roofline):
        out += [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def op_profile_notes(reports: list[dict[str, Any]]) -> list[str]:
    """One line per report whose --op-profile could not give per-op times (the benchmark itself ran)."""
    notes = []
    for r in reports:
        op = r.get("op_profile")
        if op and op.get("status") != "measured":
            name = (r.get("artifact") or {}).get("file")
            notes.append(f"note: --op-profile on {name}: {op.get('reason')}")
    return notes
