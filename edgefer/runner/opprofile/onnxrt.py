"""onnxruntime per-node profile from its session profiler (device side: stdlib, numpy, onnxruntime).

A second InferenceSession is opened with the timed session's options (threads, optimization
level, providers) plus `SessionOptions.enable_profiling`; it runs `warmup` + `runs` inferences
and `end_profiling()` writes a Chrome-trace JSON (a list of events). The events used:

- cat "Session", name "model_run": one per InferenceSession.run (ts, dur in microseconds);
- cat "Node", name "<node>_kernel_time": one per executed node per run, with args.op_name,
  args.provider, args.input_type_shape / output_type_shape ([{"float": [1, 3, 8, 8]}, ...]).

Node names are those of the optimized graph the session executes (fused nodes, inserted
reorders), which is what costs time. The first `warmup` runs are dropped (allocations).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from edgefer.runner.opprofile import OP_PROFILE_VERSION

KERNEL_SUFFIX = "_kernel_time"
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
INT_DTYPES = frozenset({"int8", "uint8", "int16", "uint16", "int4", "uint4"})


def profile_onnxruntime(rt: Any, feeds: list[np.ndarray], runs: int, warmup: int) -> dict[str, Any]:
    import onnxruntime as ort

    timed = rt.session
    used = timed.get_session_options()
    so = ort.SessionOptions()
    so.graph_optimization_level = used.graph_optimization_level
    so.intra_op_num_threads = used.intra_op_num_threads
    so.inter_op_num_threads = used.inter_op_num_threads
    so.execution_mode = used.execution_mode
    tmp = tempfile.mkdtemp(prefix="edgefer-ortprof-")
    try:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(rt.path, sess_options=so, providers=timed.get_providers())
        names = [o.name for o in sess.get_outputs()]
        feed = dict(zip([i.name for i in sess.get_inputs()], feeds))
        try:
            for _ in range(warmup + runs):
                sess.run(names, feed)
        finally:
            trace_file = sess.end_profiling()  # also on Ctrl-C: never leave the profiler running
        with open(trace_file) as f:
            events = json.load(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    section = summarize_trace(events, skip_runs=warmup)
    section["runtime_version"] = ort.__version__
    return section


def _shapes(entries: Any) -> tuple[list[list[int]], list[str]]:
    """[{"float": [1, 3]}, ...] -> ([[1, 3], ...], ["float", ...])."""
    shapes, dtypes = [], []
    for entry in entries or []:
        if isinstance(entry, dict) and entry:
            dtype, shape = next(iter(entry.items()))
            dtypes.append(str(dtype))
            shapes.append([int(d) for d in shape])
    return shapes, dtypes


def _runs(events: list[dict[str, Any]], skip_runs: int) -> list[tuple[int, int]]:
    """(start, end) in microseconds of each kept model_run, in time order."""
    spans = sorted((int(e["ts"]), int(e["ts"]) + int(e.get("dur", 0)))
                   for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    return spans[skip_runs:]


def node_precision(op_type: str, input_dtypes: list[str]) -> str:
    """'qdq' for (de)quantize nodes, 'int8' for nodes computing on integer tensors, else 'float'."""
    if op_type in QDQ_OPS:
        return "qdq"
    if input_dtypes and input_dtypes[0] in INT_DTYPES:
        return "int8"
    return "float"


def summarize_trace(events: list[dict[str, Any]], skip_runs: int = 0) -> dict[str, Any]:
    """The op_profile section from onnxruntime trace events (runs after the first skip_runs)."""
    spans = _runs(events, skip_runs)
    n_runs = len(spans)
    nodes: dict[str, dict[str, Any]] = {}
    per_run: dict[str, np.ndarray] = {}
    starts = np.array([s for s, _ in spans], dtype=np.int64)
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith(KERNEL_SUFFIX) or not n_runs:
            continue
        ts = int(e["ts"])
        k = int(np.searchsorted(starts, ts, side="right")) - 1
        if k < 0 or ts > spans[k][1]:
            continue  # a warm-up run's node
        name = e["name"][: -len(KERNEL_SUFFIX)]
        if name not in nodes:
            args = e.get("args", {})
            in_shapes, in_dtypes = _shapes(args.get("input_type_shape"))
            out_shapes, _ = _shapes(args.get("output_type_shape"))
            op_type = str(args.get("op_name", "?"))
            nodes[name] = {"name": name, "op_type": op_type, "provider": args.get("provider"),
                           "input_shapes": in_shapes, "input_dtypes": in_dtypes, "output_shapes": out_shapes,
                           "precision": node_precision(op_type, in_dtypes)}
            per_run[name] = np.zeros(n_runs)
        per_run[name][k] += int(e.get("dur", 0))  # a node run several times in one inference adds up
    run_ms = [(end - start) / 1e3 for start, end in spans]
    out_nodes = []
    for order, (name, node) in enumerate(nodes.items()):
        us = per_run[name]
        out_nodes.append({**node, "run_order": order, "mean_ms": float(us.mean()) / 1e3,
                          "p50_ms": float(np.median(us)) / 1e3})
    total = sum(n["mean_ms"] for n in out_nodes)
    for n in out_nodes:
        n["share"] = n["mean_ms"] / total if total > 0 else 0.0
    return {
        "version": OP_PROFILE_VERSION, "runtime": "onnxruntime", "status": "measured" if n_runs else "unavailable",
        "reason": None if n_runs else "the profiler recorded no model_run", "method": "onnxruntime session profiler",
        "profiled_runs": n_runs, "warmup_runs": skip_runs,
        "nodes_total_ms": total if n_runs else None,
        "model_run_mean_ms": float(np.mean(run_ms)) if run_ms else None,
        "nodes": out_nodes, "op_types": op_type_summary(out_nodes),
        "quantization": quantization_summary(out_nodes), "delegation": None,
    }


def op_type_summary(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per op type: node count, summed mean time and share, slowest first."""
    by_type: dict[str, dict[str, Any]] = {}
    for n in nodes:
        t = by_type.setdefault(n["op_type"], {"op_type": n["op_type"], "count": 0, "mean_ms": 0.0, "share": 0.0,
                                              "providers": []})
        t["count"] += 1
        t["mean_ms"] += n["mean_ms"] or 0.0
        t["share"] += n.get("share") or 0.0
        if n.get("provider") and n["provider"] not in t["providers"]:
            t["providers"].append(n["provider"])
    return sorted(by_type.values(), key=lambda t: -t["mean_ms"])


def quantization_summary(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Q/DQ nodes left after optimization and the float islands between them (QDQ models only).

    A float island is a maximal run of consecutive float nodes in execution order (onnxruntime's
    sequential executor runs nodes in one topological order) inside a model that computes in
    int8 elsewhere: these ops had no int8 kernel, so their inputs were dequantized and their
    outputs quantized again. The Q/DQ nodes right before and after an island are its conversion cost.
    """
    if not any(n["precision"] in ("qdq", "int8") for n in nodes):
        return None
    qdq = [n for n in nodes if n["precision"] == "qdq"]
    islands: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []

    def close(k: int) -> None:
        if current:
            before = nodes[current[0]["run_order"] - 1] if current[0]["run_order"] > 0 else None
            after = nodes[k] if k < len(nodes) else None
            convert = [m for m in (before, after) if m is not None and m["precision"] == "qdq"]
            types: list[str] = []
            for m in current:
                if m["op_type"] not in types:
                    types.append(m["op_type"])
            islands.append({"nodes": [m["name"] for m in current], "op_types": types,
                            "compute_ms": sum(m["mean_ms"] for m in current),
                            "convert_ms": sum(m["mean_ms"] for m in convert),
                            "share": sum(m["share"] for m in current + convert)})
            current.clear()

    for k, n in enumerate(nodes):
        if n["precision"] == "float":
            current.append(n)
        else:
            close(k)
    close(len(nodes))
    total_island = sum(i["compute_ms"] for i in islands)
    return {
        "quantize_nodes": sum(1 for n in qdq if n["op_type"] != "DequantizeLinear"),
        "dequantize_nodes": sum(1 for n in qdq if n["op_type"] == "DequantizeLinear"),
        "qdq_ms": sum(n["mean_ms"] for n in qdq), "qdq_share": sum(n["share"] for n in qdq),
        "int8_ms": sum(n["mean_ms"] for n in nodes if n["precision"] == "int8"),
        "float_island_ms": total_island,
        "float_island_share": sum(n["share"] for n in nodes if n["precision"] == "float"),
        "float_islands": sorted(islands, key=lambda i: -(i["compute_ms"] + i["convert_ms"])),
    }
