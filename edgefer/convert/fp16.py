"""fp32 artifact -> fp16 artifact: ONNX with onnxconverter-common, TFLite with ai-edge-quantizer.

Host side. Both start from the verified fp32 file of the same format (like int8), so the fp16
artifact differs from it only by the precision step.

- ONNX: `onnxconverter_common.float16.convert_float_to_float16` (the converter Microsoft keeps
  for ONNX Runtime's GPU/TensorRT users) turns initializers and activations into float16.
  `keep_io_types=True`: the model still takes float32 NCHW and returns float32 logits (a Cast at
  each end), so callers, the runner's random inputs and on-board parity feed the same arrays as
  for fp32. Ops on the converter's default block list (Resize, TopK, Range, Max/Min, ...) stay
  fp32 with Casts around them; `FP32_OPS` adds the ones our models need kept in fp32.
- TFLite: ai-edge-quantizer's `float_casting` algorithm (its fp16 weight-only recipe): the
  weights of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV / EMBEDDING_LOOKUP
  are stored as float16 with a DEQUANTIZE op in front; compute stays float32 on CPUs (XNNPACK
  can run it in fp16 where the CPU has fp16 arithmetic), and the LiteRT GPU delegate runs it in
  fp16. The file is about half the size, which is what fp16 TFLite is for on a CPU.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from edgefer.errors import EdgeferError, first_line
from edgefer.runner.files import write_atomic

# fp16 logits are compared with PyTorch fp32 at this tolerance (max |diff| / max |reference
# logit|): fp16 keeps 11 significant bits (relative rounding 4.9e-4 per value), and errors add
# up over tens of layers; 1e-2 leaves room for that and still catches a broken conversion
# (wrong weights, overflow to inf: differences of order 1).
FP16_PARITY_TOL = 1e-2
# Some nets amplify the rounding of their own weights far beyond that (measured: mobilenetv3_large
# with its seeded, never-calibrated BatchNorms, 2.2e-2 in PyTorch alone; a ridge-fitted head,
# 3e-2). So the default gate also accepts up to FLOOR_FACTOR x what rounding the weights to fp16
# does to PyTorch's own logits (the "weight-rounding floor", measured on the same inputs): the
# artifact adds activation rounding (ONNX) at most of the same order, while a conversion bug
# (wrong or clipped weights) stays far above it. An explicit --fp16-parity-tol is used as it is.
FLOOR_FACTOR = 3.0
# Kept in fp32 besides onnxconverter-common's DEFAULT_OP_BLOCK_LIST: none of the zoo needs one
# today; the list is passed explicitly so a new entry is one edit and the manifest records it.
FP32_OPS: tuple[str, ...] = ()
_TFLITE_FP16_RECIPE = [{
    "regex": ".*",
    "operation": "*",
    "algorithm_key": "float_casting",
    "op_config": {
        "weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
        "compute_precision": "FLOAT",
        "explicit_dequantize": True,
    },
}]


def _dist_version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def convert_onnx_fp16(fp32_path: Path, path: Path, keep_io_types: bool = True) -> dict:
    """fp16 .onnx at `path` from the fp32 one; float32 I/O unless keep_io_types=False."""
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError:
        raise EdgeferError(
            "ONNX fp16 conversion needs onnxconverter-common, which is not installed",
            hint='pip install "edgefer[fp16]"',
        ) from None
    fp32_path = Path(fp32_path)
    if not fp32_path.is_file():
        raise EdgeferError(f"fp32 ONNX model not found: {fp32_path}")
    start = time.perf_counter()
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(FP32_OPS))
    model = onnx.load(str(fp32_path))
    with warnings.catch_warnings(record=True) as caught:
        # the converter warns once per weight it clips to fp16's range; collected for the manifest
        warnings.simplefilter("always")
        try:
            fp16 = float16.convert_float_to_float16(model, keep_io_types=keep_io_types, op_block_list=block)
        except Exception as exc:  # the converter raises plain Exceptions / ValueErrors
            raise EdgeferError(f"onnxconverter-common could not convert {fp32_path.name} to fp16: "
                f"{first_line(exc, 300)}") from None
    try:
        onnx.checker.check_model(fp16, full_check=True)
    except Exception as exc:
        raise EdgeferError(f"fp16 ONNX fails onnx.checker: {first_line(exc, 200)}") from None
    data = fp16.SerializeToString()
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    ops = Counter(n.op_type for n in fp16.graph.node)
    clipped = sorted({str(w.message) for w in caught})
    return {
        "converter": "onnxconverter-common float16.convert_float_to_float16",
        "versions": {"onnxconverter-common": _dist_version("onnxconverter-common"), "onnx": onnx.__version__},
        "keep_io_types": keep_io_types,
        "io_dtype": "float32" if keep_io_types else "float16",
        "fp32_op_block_list": block,
        "cast_ops": ops.get("Cast", 0),
        "ops_total": sum(ops.values()),
        "clipped_values": clipped[:10],
        "seconds": round(time.perf_counter() - start, 3),
        "fp32_size_bytes": fp32_path.stat().st_size,
    }


def convert_tflite_fp16(fp32_path: Path, path: Path) -> dict:
    """fp16-weight .tflite at `path` from the fp32 one (float32 I/O and float32 compute on CPU)."""
    from edgefer.convert.tflite import _import, _version

    _import("ai_edge_quantizer", "ai-edge-quantizer")
    from ai_edge_quantizer import quantizer

    fp32_path = Path(fp32_path)
    if not fp32_path.is_file():
        raise EdgeferError(f"fp32 TFLite model not found: {fp32_path}")
    start = time.perf_counter()
    try:
        qt = quantizer.Quantizer(str(fp32_path))
        qt.load_quantization_recipe(_TFLITE_FP16_RECIPE)
        # no calibration: weight-only float casting needs none (qt.need_calibration is False)
        with contextlib.redirect_stderr(io.StringIO()):
            result = qt.quantize(None, enable_progress_bar=False, enable_progress_report=False)
    except (ValueError, RuntimeError, KeyError, NotImplementedError) as exc:
        raise EdgeferError(f"ai-edge-quantizer could not make {fp32_path.name} fp16: {first_line(exc, 300)}") from exc
    model_bytes = bytes(result.quantized_model)
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(model_bytes))
    return {
        "quantizer": "ai-edge-quantizer",
        "quantizer_version": _version("ai-edge-quantizer"),
        "recipe": "float_casting (fp16 weight-only: float16 weights + DEQUANTIZE, float32 compute on CPU)",
        "io_dtype": "float32",
        "seconds": round(time.perf_counter() - start, 3),
        "fp32_size_bytes": fp32_path.stat().st_size,
        **inspect_fp16_tflite(Path(path)),
    }


def inspect_fp16_tflite(path: Path) -> dict:
    """How many weight tensors are float16 (and how many ops dequantize them)."""
    from edgefer.convert.tflite import _import

    interp_mod = _import("ai_edge_litert.interpreter", "ai-edge-litert")
    interp = interp_mod.Interpreter(
        model_path=str(path), experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    fp16_tensors = sum(1 for t in interp.get_tensor_details() if np.dtype(t["dtype"]) == np.float16)
    ops = Counter(op["op_name"] for op in interp._get_ops_details())  # the only API listing ops
    return {"float16_tensors": fp16_tensors, "dequantize_ops": ops.get("DEQUANTIZE", 0), "ops_total": sum(ops.values())}


__all__ = ["FP16_PARITY_TOL", "convert_onnx_fp16", "convert_tflite_fp16", "inspect_fp16_tflite"]


def convert_fp16(fmt: str, fp32_path: Path, path: Path) -> dict:
    """The fp16 artifact of format `fmt` ("onnx" | "tflite") from its fp32 file (convert()'s hook)."""
    return convert_onnx_fp16(fp32_path, path) if fmt == "onnx" else convert_tflite_fp16(fp32_path, path)


def parity_tolerance(precision: str, fp32_tol: float, fp16_tol: float | None = None,
                     floor: float | None = None) -> float:
    """Relative logit tolerance an artifact of `precision` is gated at (fp32: --parity-tol;
    fp16: --fp16-parity-tol as given, else max(FP16_PARITY_TOL, FLOOR_FACTOR x floor))."""
    if precision != "fp16":
        return fp32_tol
    if fp16_tol is not None:
        return fp16_tol
    return max(FP16_PARITY_TOL, FLOOR_FACTOR * floor) if floor is not None else FP16_PARITY_TOL


def weight_rounding_floor(model, x: np.ndarray, ref: np.ndarray, batch: int = 64) -> float:
    """max |logit change| / max |logit| when PyTorch itself runs with its weights rounded to fp16
    (compute in fp32): how much of an fp16 artifact's difference is the precision, not the tool."""
    import copy

    import torch

    rounded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for t in (*rounded.parameters(), *rounded.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
        out = np.concatenate([rounded(torch.from_numpy(x[i : i + batch])).float().numpy()
                              for i in range(0, len(x), batch)])
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(out.astype(np.float64) - ref))) / scale
