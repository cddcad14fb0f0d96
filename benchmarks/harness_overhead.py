"""Harness overhead: the same ONNX model timed by edgefer's load generator and by a bare loop.

    python benchmarks/harness_overhead.py [--model M.onnx] [--runs 300] [--rounds 15] [--threads 1]

Both sides time each call with perf_counter_ns in the same process on the same session and
feeds; rounds alternate (harness, bare, harness, ...) so drift and thermal state hit both.
Printed: per-round ratio of median latencies (harness / bare) and the median over rounds;
the goal is <= 1.01. Without --model a small FER-sized conv net (1x48x48 input) is built with
onnx.helper, so the number does not depend on the zoo.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def fer_sized_onnx(path: str) -> str:
    """4 conv blocks on 1x48x48 -> 7 logits: well under 1 ms per call, so per-call overhead would show."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits, prev, ch = [], [], "x", 1
    for i, out_ch in enumerate((16, 32, 64, 64)):
        w = (rng.standard_normal((out_ch, ch, 3, 3)) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(out_ch, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1],
                                   strides=[2, 2] if i else [1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev, ch = f"r{i}", out_ch
    fw = (rng.standard_normal((7, ch)) * 0.1).astype(np.float32)
    inits += [numpy_helper.from_array(fw, "fw"), numpy_helper.from_array(np.zeros(7, np.float32), "fb")]
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "fer_sized", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 48, 48])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def bare_loop(sess, feed: dict, runs: int) -> list[int]:
    samples, clock = [], time.perf_counter_ns
    for _ in range(runs):
        t0 = clock()
        sess.run(None, feed)
        samples.append(clock() - t0)
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="an .onnx file (default: a synthetic FER-sized conv net)")
    ap.add_argument("--runs", type=int, default=300, help="timed runs per round and side")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    from edgefer.runner.loadgen import run_load
    from edgefer.runner.runtimes import open_runtime

    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or fer_sized_onnx(os.path.join(tmp, "fer_sized.onnx"))
        rt = open_runtime(path, threads=args.threads)
        feeds = rt.make_inputs(1, seed=0)
        sess = rt._sess  # the very session the harness times: same kernels, same arena
        feed = {rt.inputs[0].name: feeds[0]}
        run = rt.run
        for _ in range(50):  # shared warm-up before round 1
            sess.run(None, feed)
        ratios, h_meds, b_meds = [], [], []
        for i in range(args.rounds):
            h = statistics.median(run_load(lambda: run(feeds), args.runs, warmup=5).samples_ns)
            b = statistics.median(bare_loop(sess, feed, args.runs))
            h_meds.append(h)
            b_meds.append(b)
            ratios.append(h / b)
            print(f"round {i + 1:2d}: harness p50 {h / 1e6:.4f} ms  bare p50 {b / 1e6:.4f} ms  ratio {h / b:.4f}")
    print(f"model: {os.path.basename(path)}  threads: {args.threads}  runs/round: {args.runs}  rounds: {args.rounds}")
    print(f"median harness p50 {statistics.median(h_meds) / 1e6:.4f} ms, bare p50 {statistics.median(b_meds) / 1e6:.4f} ms")
    print(f"median ratio harness/bare: {statistics.median(ratios):.4f}  (goal <= 1.01)")


if __name__ == "__main__":
    main()
