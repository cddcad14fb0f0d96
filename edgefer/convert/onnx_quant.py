"""ONNX fp32 -> int8 with onnxruntime's static quantizer (QDQ, per-channel weights).

`quant_pre_process` (shape inference + graph optimisation) runs first, as onnxruntime
recommends; its symbolic shape inference can crash on some graphs (ReduceMax, seen on
CBAM-style attention), so we retry once without it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgefer.convert.quiet import quiet_libraries
from edgefer.errors import EdgeferError, first_line

ACTIVATION_TYPES = ("U8", "S8")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


class _Reader:
    """onnxruntime CalibrationDataReader over a float32 NCHW array."""

    def __init__(self, input_name: str, x: np.ndarray, batch: int):
        self._it = iter([{input_name: x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self) -> dict | None:
        return next(self._it, None)


def check_quant_options(activation_type: str, calibration: str) -> tuple[str, str]:
    """-> (U8|S8, minmax|entropy|percentile), or a one-line error naming the flag."""
    act, method = activation_type.upper(), calibration.lower()
    if act not in ACTIVATION_TYPES:
        raise EdgeferError(f"--activation-type must be U8 or S8, got {activation_type!r}")
    if method not in CALIBRATION_METHODS:
        raise EdgeferError(f"--calibration must be one of {', '.join(CALIBRATION_METHODS)}, got {calibration!r}")
    return act, method


def _pre_process(src: Path, dst: Path) -> dict:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(src), str(dst))
        return {"pre_process": "quant_pre_process"}
    except Exception as exc:
        first = first_line(exc, 120)
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
        return {"pre_process": "quant_pre_process(skip_symbolic_shape=True)", "pre_process_retry_reason": first}


def quantize_onnx_int8(
    fp32_path: Path,
    calib_nchw: np.ndarray,
    path: Path,
    activation_type: str = "U8",
    calibration: str = "minmax",
) -> dict:
    """Static int8 quantization of `fp32_path` calibrated on `calib_nchw`; writes `path`."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    act, method = check_quant_options(activation_type, calibration)
    if len(calib_nchw) == 0:
        raise EdgeferError("no calibration samples")
    t0 = time.perf_counter()
    model = onnx.load(str(fp32_path))
    inp = model.graph.input[0]
    batch_dim = inp.type.tensor_type.shape.dim[0]
    # a dynamic-batch graph takes calibration batches of up to 32 (faster); a fixed one, its own batch
    dynamic = bool(batch_dim.dim_param) or not batch_dim.dim_value
    batch = min(32, len(calib_nchw)) if dynamic else int(batch_dim.dim_value)
    n = (len(calib_nchw) // batch) * batch
    if n == 0:
        raise EdgeferError(f"need at least {batch} calibration samples for this fixed-batch model")
    pre = path.with_name(path.stem + ".pre.onnx")
    try:
        # onnxruntime.quantization logs through the root logger, e.g. one "Axis 1 is out-of-range
        # for weight ..." line per unfolded BatchNorm (DenseNet has 120) when per-channel falls
        # back to per-tensor for a rank-1 tensor: informational
        with quiet_libraries("", warning_category=None):
            info = _pre_process(fp32_path, pre)
            quantize_static(
                str(pre),
                str(path),
                _Reader(inp.name, np.ascontiguousarray(calib_nchw[:n], dtype=np.float32), batch),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8 if act == "U8" else QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method={
                    "minmax": CalibrationMethod.MinMax,
                    "entropy": CalibrationMethod.Entropy,
                    "percentile": CalibrationMethod.Percentile,
                }[method],
            )
    except EdgeferError:
        raise
    except Exception as exc:
        first = first_line(exc, 200)
        raise EdgeferError(f"ONNX int8 quantization failed: {type(exc).__name__}: {first}") from None
    finally:
        pre.unlink(missing_ok=True)
    return {
        "converter": "onnxruntime.quantization.quantize_static",
        "versions": {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__},
        "quant_format": "QDQ",
        "activation_type": act,
        "weight_type": "S8",
        "per_channel": True,
        "calibration_method": method,
        "calibration_samples": int(n),
        **info,
        "seconds": round(time.perf_counter() - t0, 3),
    }
