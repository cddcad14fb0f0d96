"""Convert one zoo model to TFLite fp32 + int8 and print what was measured, as one JSON line.

    python benchmarks/tflite_zoo.py mobilenetv3_large [--runs 30] [--out /tmp/edgefer-tflite]

No FER weights or data ship with edgefer, so the model is made into a real classifier of a
synthetic 7-class task first (seeded random conv weights, BatchNorm statistics from the data,
last Linear fitted by ridge regression on the conv features; nothing else trained). Top-1
agreement is then measured on a model whose predictions spread over the classes (reported), not
on an untrained net that predicts one class for everything.
Latency: LiteRT, 1 thread, XNNPACK on, median of 3 interleaved fp32/int8 blocks of --runs runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgefer.convert.tflite import export_tflite_fp32, quantize_tflite_int8
from edgefer.runner.loadgen import run_load
from edgefer.runner.runtimes import open_runtime
from edgefer.zoo import create_model, get_entry


def synthetic(n: int, shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """7 fixed blocky templates (8x8 blocks) + Gaussian noise, NCHW float32."""
    c, h, w = shape
    templates = np.random.default_rng(123).standard_normal((7, c, 8, 8)).astype(np.float32)
    templates = np.kron(templates, np.ones((1, 1, h // 8, w // 8), np.float32))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 7, n)
    return (templates[y] + 0.8 * rng.standard_normal((n, c, h, w))).astype(np.float32), y


def batched(model: nn.Module, x: np.ndarray, bs: int = 16) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(x[i : i + bs])) for i in range(0, len(x), bs)])


def fit_classifier(model: nn.Module, shape: tuple[int, ...], n: int) -> nn.Module:
    head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass below
    x, y = synthetic(n, shape, 1)
    model.train()
    batched(model, x, 32)
    model.eval()
    feats: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].flatten(1)))
    batched(model, x)
    hook.remove()
    f = torch.cat([torch.cat(feats), torch.ones(n, 1)], 1)
    target = nn.functional.one_hot(torch.from_numpy(y), 7).float() * 2 - 1
    sol = torch.linalg.solve(f.T @ f + 1e-2 * torch.eye(f.shape[1]), f.T @ target)
    with torch.no_grad():
        head.weight.copy_(sol[:-1].T)
        head.bias.copy_(sol[-1])
    return model


def latency_ns(rt, runs: int) -> list[int]:
    """`runs` timed batch-1 calls after 5 warm-up calls, by the harness's own load generator."""
    feed = rt.make_inputs(1)
    return run_load(lambda: rt.run(feed), runs, warmup=5).samples_ns


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--fit-samples", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("/tmp/edgefer-tflite"))
    args = ap.parse_args()

    torch.manual_seed(0)
    shape = get_entry(args.model).input_shape()[1:]
    model = fit_classifier(create_model(args.model, seed=0).eval(), shape, args.fit_samples)
    calib, _ = synthetic(128, shape, 2)
    test, y = synthetic(200, shape, 3)
    fp32, int8 = args.out / f"{args.model}_fp32.tflite", args.out / f"{args.model}_int8.tflite"
    i32 = export_tflite_fp32(model, torch.from_numpy(calib[:1]), fp32)
    i8 = quantize_tflite_int8(fp32, calib, int8)

    ref = batched(model, test).numpy()
    r32, r8 = open_runtime(str(fp32), threads=1), open_runtime(str(int8), threads=1)
    y32, y8 = r32.predict(test), r8.predict(test)
    l32: list[int] = []
    l8: list[int] = []
    for _ in range(3):  # interleaved: the host is shared, so spread its noise over both
        l32 += latency_ns(r32, args.runs)
        l8 += latency_ns(r8, args.runs)
    p32, p8 = float(np.median(l32)) / 1e6, float(np.median(l8)) / 1e6
    print(json.dumps({
        "model": args.model, "input_nchw": [1, *shape],
        "fp32_convert_s": i32["seconds"], "int8_quantize_s": i8["seconds"],
        "fp32_bytes": i8["fp32_size_bytes"], "int8_bytes": i8["size_bytes"],
        "size_ratio": round(i8["size_bytes"] / i8["fp32_size_bytes"], 3),
        "int8_ops_total": i8["ops_total"], "int8_ops_float": i8["ops_float"], "int8_float_ops": i8["float_ops"],
        "fp32_max_abs_diff": float(np.abs(y32 - ref).max()), "logit_range": float(np.ptp(ref)),
        "fp32_classes_predicted": int(len(np.unique(ref.argmax(1)))),
        "fp32_synthetic_acc": float((ref.argmax(1) == y).mean()),
        "int8_synthetic_acc": float((y8.argmax(1) == y).mean()),
        "int8_top1_agreement": float((y8.argmax(1) == ref.argmax(1)).mean()),
        "threads": 1, "xnnpack_partitions_fp32": r32.delegate_nodes,
        "xnnpack_partitions_int8": r8.delegate_nodes,
        "fp32_p50_ms": round(p32, 2), "int8_p50_ms": round(p8, 2), "int8_over_fp32_latency": round(p8 / p32, 3),
    }))


if __name__ == "__main__":
    main()
