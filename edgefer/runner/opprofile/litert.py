"""LiteRT delegate partitions per op (device side: stdlib, numpy, ai_edge_litert / tflite_runtime).

What the Python interpreter tells: `Interpreter._get_ops_details()` lists the model's ops
(index, op_name, inputs, outputs) followed by one "DELEGATE" node per partition a delegate
took (its inputs are the tensors the partition reads from outside, its outputs the tensors it
hands back). An op belongs to a partition when it lies on a path from the partition's outputs
back to its inputs; every other op runs on the interpreter's built-in (reference/optimized
TFLite) kernels, and each boundary between the two costs a hand-over.

What it does not tell: time per op. The ai_edge_litert Interpreter has no profiler hook (the
op profiler, `benchmark_model --enable_op_profiling`, is a C++ tool, not in the wheel; 2.3.0
ships its output protobufs but no Python API that fills them, and CompiledModel has no
profiling option), and
timing a model cut at node boundaries would measure other graphs (other fusions, other
partitions), so per-op times are reported as unavailable, never estimated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgefer.runner.opprofile import OP_PROFILE_VERSION

NO_TIMER_REASON = ("the {pkg} {ver} Python Interpreter has no per-op timer (LiteRT's op profiler is the C++ "
                   "benchmark_model --enable_op_profiling, not part of the wheel); per-op times are unavailable "
                   "for this runtime, delegate partitions are reported instead")


def delegated_ops(ops: list[dict[str, Any]]) -> dict[int, int]:
    """op index -> partition number, for the ops the DELEGATE nodes replaced."""
    model_ops = [o for o in ops if o["op_name"] != "DELEGATE"]
    producer = {int(t): int(o["index"]) for o in model_ops for t in o["outputs"] if int(t) >= 0}
    by_index = {int(o["index"]): o for o in model_ops}
    taken: dict[int, int] = {}
    for part, node in enumerate(o for o in ops if o["op_name"] == "DELEGATE"):
        boundary = {int(t) for t in node["inputs"]}
        stack, seen = [int(t) for t in node["outputs"]], set()
        while stack:
            t = stack.pop()
            if t in boundary or t in seen or t < 0:
                continue
            seen.add(t)
            op = producer.get(t)
            if op is None:
                continue
            taken[op] = part
            stack.extend(int(i) for i in by_index[op]["inputs"])
    return taken


def _dtype(types: Any) -> str | None:
    return np.dtype(types[0]).name if types is not None and len(types) else None


def profile_litert(rt: Any) -> dict[str, Any]:
    interp = rt.interpreter
    pkg = "ai_edge_litert" if rt.name == "litert" else "tflite_runtime"
    ops = interp._get_ops_details()
    shapes = {int(t["index"]): [int(d) for d in t["shape"]] for t in interp.get_tensor_details()}
    taken = delegated_ops(ops)
    n_partitions = sum(1 for o in ops if o["op_name"] == "DELEGATE")
    nodes = []
    for o in ops:
        if o["op_name"] == "DELEGATE":
            continue
        idx = int(o["index"])
        nodes.append({
            "name": f"{o['op_name']}_{idx}", "op_type": o["op_name"], "run_order": idx,
            "provider": "XNNPACK" if idx in taken else "builtin",
            "partition": taken.get(idx),
            "input_shapes": [shapes.get(int(t), []) for t in o["inputs"] if int(t) >= 0],
            "input_dtypes": [np.dtype(t).name for t in o.get("operand_types") or []],
            "output_shapes": [shapes.get(int(t), []) for t in o["outputs"] if int(t) >= 0],
            "precision": "int8" if _dtype(o.get("operand_types")) in ("int8", "uint8", "int16") else "float",
            "mean_ms": None, "p50_ms": None, "share": None,
        })
    by_type: dict[str, dict[str, Any]] = {}
    for n in nodes:
        t = by_type.setdefault(n["op_type"], {"op_type": n["op_type"], "count": 0, "delegated": 0, "builtin": 0,
                                              "mean_ms": None, "share": None, "providers": []})
        t["count"] += 1
        t["delegated" if n["partition"] is not None else "builtin"] += 1
        if n["provider"] not in t["providers"]:
            t["providers"].append(n["provider"])
    return {
        "version": OP_PROFILE_VERSION, "runtime": rt.name, "runtime_version": rt.version(),
        "status": "partitions_only", "reason": NO_TIMER_REASON.format(pkg=pkg, ver=rt.version()),
        "method": "Interpreter._get_ops_details (execution plan)", "profiled_runs": 0, "warmup_runs": 0,
        "nodes_total_ms": None, "model_run_mean_ms": None,
        "nodes": nodes, "op_types": sorted(by_type.values(), key=lambda t: (-t["builtin"], -t["count"])),
        "quantization": None,
        "delegation": {"delegate": "XNNPACK" if rt.xnnpack else None, "partitions": n_partitions,
                       "ops_total": len(nodes), "ops_delegated": len(taken),
                       "ops_builtin": len(nodes) - len(taken)},
    }
