"""How far from the hardware's limit: achieved GMAC/s and the fraction of the CPU's nominal peak.

Host side. Every bench report gets a `roofline` section: the model's MACs (from the conversion
manifest) per p50 latency, and, where the target profile states each core's SIMD
multiply-accumulates per cycle (targets/*.yaml `cpu.clusters[].fp32_macs_per_cycle` /
`int8_macs_per_cycle`, with `simd_source`), the fraction of the peak of the cores the run used.
The peak is `cores x max clock x MACs/cycle`, computed from nominal specs: sustained clocks,
memory bandwidth and the kernels' instruction mix all keep real code below it. A depthwise
convolution far below peak is memory-bound; a GEMM near it is compute-bound.

With an op profile (onnxruntime), the heaviest ops get the same figures from per-op MACs
computed on the ONNX graph (onnx shape inference, Conv/Gemm/MatMul and their int8 forms).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

ROOFLINE_VERSION = "1"
NOMINAL_LABEL = "computed from nominal specs"
TOP_OPS = 10
# op type -> index of the weight (B) input; the MACs of these ops are counted
_CONV_W = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}
_MATMUL_A = {"MatMul": 0, "MatMulInteger": 0, "QLinearMatMul": 0, "Gemm": 0, "FusedMatMul": 0}


def _prod(dims: list[int]) -> int:
    return math.prod(int(d) for d in dims)


def _static_shapes(model: Any) -> dict[str, list[int]]:
    """tensor name -> shape after onnx shape inference (symbolic dims taken as 1, per image)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - a graph onnx cannot infer still has declared shapes
        inferred = model
    g = inferred.graph
    shapes: dict[str, list[int]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def node_macs(node: Any, shapes: dict[str, list[int]]) -> int | None:
    """Multiply-accumulates of one ONNX node (Conv/Gemm/MatMul families), None for other ops."""
    out = shapes.get(node.output[0]) if node.output else None
    if out is None:
        return None
    if node.op_type in _CONV_W:
        w = shapes.get(node.input[_CONV_W[node.op_type]])
        return _prod(out) * _prod(w[1:]) if w else None
    if node.op_type == "ConvTranspose":
        x, w = shapes.get(node.input[0]), shapes.get(node.input[1])
        return _prod(x) * _prod(w[1:]) if x and w else None
    if node.op_type in _MATMUL_A:
        a = shapes.get(node.input[_MATMUL_A[node.op_type]])
        if not a:
            return None
        trans_a = any(at.name == "transA" and at.i for at in node.attribute)
        k = a[0] if node.op_type == "Gemm" and trans_a else a[-1]
        return _prod(out) * int(k)
    return None


def graph_macs(onnx_path: str) -> dict[str, int]:
    """node name -> MACs per image, for the nodes with MACs in an ONNX file."""
    import onnx

    model = onnx.load(onnx_path, load_external_data=False)
    shapes = _static_shapes(model)
    found = {}
    for node in model.graph.node:
        macs = node_macs(node, shapes)
        if macs is not None and node.name:
            found[node.name] = macs
    return found


def profiled_node_macs(node: dict[str, Any], by_name: dict[str, int], batch: int) -> int | None:
    """MACs of one profiled (optimized-graph) node: the source node it was built from, else its shapes.

    onnxruntime keeps the source name for fused QDQ nodes ('<name>_token_<k>'); NCHWc convs are
    named after their output tensor, but their trace event carries the weight shape.
    """
    name = node["name"]
    for candidate in (name, re.sub(r"_token_\d+$", "", name)):
        if candidate in by_name:
            return by_name[candidate] * batch
    ins, outs = node.get("input_shapes") or [], node.get("output_shapes") or []
    if not outs or not outs[0]:
        return None
    op = node["op_type"]
    if op in ("Conv", "FusedConv", "NhwcFusedConv") and len(ins) > 1 and len(ins[1]) >= 3:
        return _prod(outs[0]) * _prod(ins[1][1:])
    if op in ("MatMul", "FusedMatMul", "Gemm") and ins and ins[0]:
        return _prod(outs[0]) * int(ins[0][-1])
    return None


def _cores_used(report: dict[str, Any], target: Any) -> tuple[int, str]:
    settings, rt = report.get("settings") or {}, report.get("runtime") or {}
    threads = rt.get("threads") or settings.get("threads")
    cpus = settings.get("cpus")
    limit = len(cpus) if cpus else target.cpu.cores
    if threads:
        return min(int(threads), limit), f"{min(int(threads), limit)} thread(s)"
    return limit, f"threads not set: assumed all {limit} core(s) {'pinned' if cpus else 'of the target'}"


def peak_gmacs(target: Any, precision: str, cores: int) -> tuple[float | None, str | None, list[str], str | None]:
    """(peak GMAC/s of the fastest `cores` cores, basis text, sources, reason when unknown)."""
    key = "int8_macs_per_cycle" if precision == "int8" else "fp32_macs_per_cycle"
    if target.emulated:
        return None, None, [], "emulated target: an emulator has no hardware peak"
    clusters = target.cpu.clusters
    if not clusters or not any(getattr(c, key) for c in clusters):
        return None, None, [], f"the target profile states no {key} for its cores"
    ranked = sorted(clusters, key=lambda c: -((getattr(c, key) or 0) * (c.max_mhz or 0)))
    peak, parts, sources, left = 0.0, [], [], cores
    for c in ranked:
        if left <= 0:
            break
        n = min(left, c.count)
        per_cycle = getattr(c, key)
        if not per_cycle or not c.max_mhz:
            return None, None, [], f"{c.core} has no {key} in the target profile"
        peak += n * c.max_mhz * 1e-3 * per_cycle
        parts.append(f"{n}x {c.core} @ {c.max_mhz} MHz x {per_cycle:g} {precision} MACs/cycle")
        if c.simd_source and c.simd_source not in sources:
            sources.append(c.simd_source)
        left -= n
    return peak, " + ".join(parts), sources, None


def roofline_section(report: dict[str, Any], target: Any, artifact_path: str | None) -> dict[str, Any]:
    """The report's roofline section (host side; needs the target profile and, per op, the ONNX file)."""
    stats = report.get("statistics") or {}
    macs = (report.get("model") or {}).get("macs")
    batch = int((report.get("settings") or {}).get("batch_size") or 1)
    p50 = stats.get("p50_ms")
    precision = (report.get("artifact") or {}).get("precision") or "fp32"
    achieved = macs * batch / (p50 * 1e6) if macs and p50 else None  # MACs / (ms * 1e6) = GMAC/s
    cores, cores_note = _cores_used(report, target)
    peak, basis, sources, reason = peak_gmacs(target, precision, cores)
    section: dict[str, Any] = {
        "version": ROOFLINE_VERSION, "label": NOMINAL_LABEL, "model_macs": macs, "batch_size": batch,
        "p50_ms": p50, "achieved_gmacs": achieved, "precision": precision, "cores_used": cores,
        "cores_note": cores_note, "peak_gmacs": peak, "peak_basis": basis, "peak_sources": sources,
        "fraction_of_peak": achieved / peak if achieved and peak else None,
        "reason": reason if peak is None else None, "ops": [],
    }
    if macs is None:
        section["reason"] = "; ".join(r for r in ("the model's MACs are unknown (no manifest)", reason) if r)
    section["ops"] = _op_rows(report.get("op_profile"), target, cores, artifact_path, batch)
    return section


def _op_rows(op_profile: dict[str, Any] | None, target: Any, cores: int, artifact_path: str | None,
             batch: int) -> list[dict[str, Any]]:
    if not op_profile or op_profile.get("status") != "measured" or op_profile.get("runtime") != "onnxruntime":
        return []
    by_name: dict[str, int] = {}
    if artifact_path and os.path.isfile(artifact_path):
        try:
            by_name = graph_macs(artifact_path)
        except Exception:  # noqa: BLE001 - no onnx package or an unreadable graph: trace shapes only
            by_name = {}
    peaks = {p: peak_gmacs(target, p, cores)[0] for p in ("fp32", "int8")}
    rows = []
    for node in sorted(op_profile.get("nodes") or [], key=lambda n: -(n.get("mean_ms") or 0)):
        macs = profiled_node_macs(node, by_name, batch)
        if macs is None or not node.get("mean_ms"):
            continue
        gmacs = macs / (node["mean_ms"] * 1e6)
        peak = peaks["int8" if node.get("precision") == "int8" else "fp32"]
        rows.append({"name": node["name"], "op_type": node["op_type"], "macs": macs, "mean_ms": node["mean_ms"],
                     "achieved_gmacs": gmacs, "fraction_of_peak": gmacs / peak if peak else None,
                     "input_shapes": node.get("input_shapes") or []})
        if len(rows) == TOP_OPS:
            break
    return rows
