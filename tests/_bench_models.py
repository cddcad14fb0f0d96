"""Tiny ONNX models built with onnx.helper for the runner/bench/energy tests (no zoo, no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_conv_onnx(path: Path, *, batch: int | str | None = "N", channels: int = 1, size: int = 8,
                   classes: int = 7, seed: int = 0, dyn_hw: bool = False) -> Path:
    """Conv3x3 -> Relu -> GlobalAveragePool -> Flatten -> Gemm: float32 NCHW in, logits out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, channels, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    fw = rng.standard_normal((classes, 4)).astype(np.float32)
    fb = rng.standard_normal(classes).astype(np.float32)
    hw = "H" if dyn_hw else size
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, channels, hw, "W" if dyn_hw else size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, classes])
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"), (fw, "fw"), (fb, "fb"))]
    graph = helper.make_graph(nodes, "tiny", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def reference_logits(x: np.ndarray, seed: int = 0, channels: int = 1, classes: int = 7) -> np.ndarray:
    """The same network in numpy, to check runtime outputs against."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((4, channels, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    fw = rng.standard_normal((classes, 4)).astype(np.float32)
    fb = rng.standard_normal(classes).astype(np.float32)
    n, _, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, 4, h, wd), np.float32)
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i : i + h, j : j + wd], w[:, :, i, j])
    out = np.maximum(out + b[None, :, None, None], 0).mean(axis=(2, 3))
    return out @ fw.T + fb


def tiny_torch(num_classes: int = 7, in_chans: int = 1):
    """A small eager model for `--runtime torch` (loaded via a manifest's module source)."""
    import torch

    return torch.nn.Sequential(torch.nn.Conv2d(in_chans, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, num_classes))
