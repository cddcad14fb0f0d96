"""PyTorch -> TFLite: fp32 with litert-torch, full-integer int8 with ai-edge-quantizer.

Host side. Why these tools (measured by the project, see README.md, "TFLite: conversion (fp32, int8) and the LiteRT runtime"):
- litert-torch lowers torch.export graphs straight to TFLite (no TensorFlow, no onnx2tf) and
  matches torch to ~1e-6 in fp32.
- int8 comes from ai-edge-quantizer's static recipe (int8 weights per channel, int8 activations
  per tensor, calibrated) applied to that fp32 file: every op with an int8 kernel gets one.
  litert-torch's own PT2E int8 path left float islands and lost accuracy on CBAM/DenseNet, so it
  is not used.

Artifacts take NHWC input named "image_nhwc": TFLite's native layout (what Android camera
pipelines hand over), and the graph then starts with its first conv instead of a transpose.
The runtime (edgefer/runner/runtimes/litert.py) reads the layout from that name, and
`predict()` accepts NCHW and transposes, so callers keep feeding NCHW.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from edgefer.convert.quiet import quiet_libraries
from edgefer.errors import EdgeferError, first_line
from edgefer.runner.files import write_atomic
from edgefer.runner.runtimes.tflite_tensors import tflite_layout

INPUT_NAME = "image_nhwc"
_INSTALL_HINT = 'pip install "edgefer[tflite]"'
# Ops that only move int8 data between float I/O and the int8 graph; expected with float32 I/O.
_BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}


class TFLiteUnavailable(EdgeferError):
    """litert-torch / ai-edge-quantizer / ai-edge-litert are not installed."""

    def __init__(self, missing: str):
        super().__init__(f"TFLite conversion needs {missing}, which is not installed", hint=_INSTALL_HINT)


class UnsupportedOp(EdgeferError):
    """A converter has no lowering/kernel for an operator of the model."""

    def __init__(self, op: str, fmt: str, tool: str):
        super().__init__(f"{fmt} conversion: {tool} cannot convert operator '{op}'")
        self.op, self.format, self.tool = op, fmt, tool


class _NHWCInput(nn.Module):
    """Takes NHWC, hands NCHW to the wrapped model; the forward argument names the TFLite input."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image_nhwc: torch.Tensor) -> torch.Tensor:
        return self.model(image_nhwc.permute(0, 3, 1, 2))


def _import(name: str, pip_name: str) -> Any:
    try:
        # litert-torch pulls in torchao, which logs a warning per optional CUDA/Triton kernel it
        # cannot load on a CPU-only machine, and torch warns about a deprecated pytree call
        with quiet_libraries("", "torchao", "torch.utils._pytree"):
            return importlib.import_module(name)
    except ImportError:
        raise TFLiteUnavailable(pip_name) from None


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@contextlib.contextmanager
def _quiet_litert_torch() -> Iterator[None]:
    """litert-torch prints a progress tree to stdout for every conversion, and torch.export warns
    about its own deprecated pytree API (FutureWarning) on every call; the CLI owns the terminal."""
    old = os.environ.get("LITERT_TORCH_SHOW_PROGRESS")
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    try:
        with quiet_libraries(warning_category=FutureWarning):
            yield
    finally:
        if old is None:
            os.environ.pop("LITERT_TORCH_SHOW_PROGRESS", None)
        else:
            os.environ["LITERT_TORCH_SHOW_PROGRESS"] = old


def export_tflite_fp32(model: nn.Module, example_nchw: torch.Tensor, path: Path) -> dict:
    """Convert `model` (taking NCHW float32) to an fp32 .tflite with NHWC input at `path`."""
    litert_torch = _import("litert_torch", "litert-torch")
    if example_nchw.ndim != 4:
        raise EdgeferError(f"TFLite export needs a 4-D NCHW example input, got shape {list(example_nchw.shape)}")
    example_nhwc = example_nchw.detach().float().permute(0, 2, 3, 1).contiguous()
    wrapped = _NHWCInput(model.eval()).eval()
    start = time.perf_counter()
    try:
        with _quiet_litert_torch():
            edge_model = litert_torch.convert(wrapped, (), sample_kwargs={INPUT_NAME: example_nhwc})
    except Exception as exc:  # torch.export / lowering errors have no common base class
        missing = re.search(r"Lowering not found: ([\w.]+)", str(exc))
        if missing:  # "aten.adaptive_max_pool2d.default" -> "aten.adaptive_max_pool2d"
            op = missing.group(1).removesuffix(".default")
            raise UnsupportedOp(op, "TFLite", "litert-torch") from None
        raise EdgeferError(
            f"litert-torch could not convert {type(model).__name__}: {first_line(exc, 300)}"
        ) from exc
    with _quiet_litert_torch():
        write_atomic(path, edge_model.export)
    seconds = time.perf_counter() - start
    return {
        "converter": "litert-torch",
        "converter_version": _version("litert-torch"),
        "torch_version": torch.__version__,
        "seconds": round(seconds, 3),
        "precision": "fp32",
        "input_name": INPUT_NAME,
        "input_layout": "NHWC",
        "input_shape": list(example_nhwc.shape),
    }


def _model_input(fp32_path: Path) -> tuple[str, str, list[int], str]:
    """(signature key, signature input name, input shape, layout) of a single-input float model."""
    interp_mod = _import("ai_edge_litert.interpreter", "ai-edge-litert")
    try:
        interp = interp_mod.Interpreter(model_path=str(fp32_path))
    except (ValueError, RuntimeError) as exc:
        raise EdgeferError(f"cannot read TFLite model {fp32_path}: {first_line(exc, 300)}") from None
    signatures = interp.get_signature_list()
    details = interp.get_input_details()
    if len(signatures) != 1 or len(details) != 1:
        raise EdgeferError(
            f"int8 quantization needs a model with one signature and one input: {fp32_path} has "
            f"{len(signatures)} signature(s) and {len(details)} input(s)"
        )
    detail = details[0]
    if np.dtype(detail["dtype"]) != np.float32:
        raise EdgeferError(
            f"{fp32_path} has a {np.dtype(detail['dtype']).name} input: int8 quantization needs the fp32 model"
        )
    key, sig = next(iter(signatures.items()))
    shape = [int(d) for d in detail["shape"]]
    return key, sig["inputs"][0], shape, tflite_layout(detail["name"], shape) or "NHWC"


def _calibration_samples(calib_nchw: np.ndarray, shape: list[int], layout: str) -> list[np.ndarray]:
    """NCHW calibration batch -> list of model-shaped (layout, batch dim) float32 samples."""
    x = np.asarray(calib_nchw, dtype=np.float32)
    if x.ndim != 4 or len(x) == 0:
        raise EdgeferError(f"calibration data must be a non-empty NCHW batch, got shape {list(x.shape)}")
    if layout == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    if list(x.shape[1:]) != shape[1:]:
        want = [shape[0], shape[3], shape[1], shape[2]] if layout == "NHWC" else shape
        raise EdgeferError(f"calibration data has shape {list(calib_nchw.shape)}, the model takes NCHW {want}")
    batch = shape[0]
    usable = len(x) - len(x) % batch
    if usable == 0:
        raise EdgeferError(f"need at least {batch} calibration samples (the model's batch size), got {len(x)}")
    return [np.ascontiguousarray(x[i : i + batch]) for i in range(0, usable, batch)]


def inspect_int8(path: Path) -> dict:
    """Count ops computing in float in a quantized .tflite (QUANTIZE/DEQUANTIZE at float I/O aside).

    An op counts as float if any of its operands or results is floating point: in a quantized
    graph that is an op the quantizer had no int8 kernel for, left in float between a
    DEQUANTIZE and a QUANTIZE.
    """
    interp_mod = _import("ai_edge_litert.interpreter", "ai-edge-litert")
    # without default delegates the op list is exactly the model's (no DELEGATE nodes)
    interp = interp_mod.Interpreter(
        model_path=str(path), experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    ops = interp._get_ops_details()  # op names + operand dtypes: the only API exposing them
    float_ops: Counter[str] = Counter()
    boundary = 0
    for op in ops:
        name = op["op_name"]
        types = [*op.get("operand_types", []), *op.get("result_types", [])]
        if name in _BOUNDARY_OPS:
            boundary += 1
        elif any(np.dtype(t).kind == "f" for t in types):
            float_ops[name] += 1
    return {
        "ops_total": len(ops),
        "ops_float": sum(float_ops.values()),
        "float_ops": dict(float_ops),
        "quantize_dequantize_ops": boundary,
    }


def quantize_tflite_int8(fp32_path: Path, calib_nchw: np.ndarray, path: Path, io_dtype: str = "int8") -> dict:
    """Full-integer int8 .tflite from an fp32 one, calibrated on `calib_nchw` (float32 NCHW).

    io_dtype "int8": the model takes and returns int8 (scale/zero point in the tensor details);
    "float32": QUANTIZE/DEQUANTIZE ops at the edges, int8 everywhere else.
    """
    if io_dtype not in ("int8", "float32"):
        raise EdgeferError(f"io_dtype must be 'int8' or 'float32', got '{io_dtype}'")
    _import("ai_edge_quantizer", "ai-edge-quantizer")
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe

    fp32_path = Path(fp32_path)
    if not fp32_path.is_file():
        raise EdgeferError(f"fp32 TFLite model not found: {fp32_path}")
    key, input_name, shape, layout = _model_input(fp32_path)
    samples = _calibration_samples(calib_nchw, shape, layout)

    start = time.perf_counter()
    qt = quantizer.Quantizer(str(fp32_path))
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    if io_dtype == "float32":
        # The static recipe quantizes the graph's inputs/outputs too (int8 I/O); leaving the
        # virtual INPUT/OUTPUT ops unquantized makes the quantizer insert QUANTIZE/DEQUANTIZE.
        for op in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            qt.update_quantization_recipe(
                regex=".*", operation_name=op, algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE
            )
    try:
        # the calibrator's and the transformer's tqdm bars cannot be switched off (the latter turns
        # itself on for graphs over 100 tensors) and flood logs when stderr is not a terminal; the
        # CLI shows its own per-step progress
        with contextlib.redirect_stderr(io.StringIO()):
            calibration = qt.calibrate({key: [{input_name: s} for s in samples]})
            result = qt.quantize(calibration, enable_progress_bar=False, enable_progress_report=False)
    except (ValueError, RuntimeError, KeyError, NotImplementedError) as exc:
        raise EdgeferError(f"ai-edge-quantizer could not quantize {fp32_path.name}: {first_line(exc, 300)}") from exc
    model_bytes = bytes(result.quantized_model)
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(model_bytes))
    seconds = time.perf_counter() - start

    return {
        "quantizer": "ai-edge-quantizer",
        "quantizer_version": _version("ai-edge-quantizer"),
        "recipe": "static_wi8_ai8 (int8 weights per channel, int8 activations per tensor)",
        "io_dtype": io_dtype,
        "seconds": round(seconds, 3),
        "calibration_samples": len(samples) * shape[0],
        "input_name": input_name,
        "input_layout": layout,
        "input_shape": shape,
        "size_bytes": len(model_bytes),
        "fp32_size_bytes": fp32_path.stat().st_size,
        **inspect_int8(Path(path)),
    }
