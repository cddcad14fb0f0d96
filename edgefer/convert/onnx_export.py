"""PyTorch -> ONNX fp32 with torch's dynamo exporter, checked by `onnx.checker`.

The dynamo exporter needs onnxscript and opset >= 18; `external_data=False` keeps weights
inside the one .onnx file (our models are far below protobuf's 2 GB limit).
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

from edgefer.convert.quiet import quiet_libraries
from edgefer.errors import EdgeferError, first_line

MIN_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "input", "logits"


class UnsupportedOp(EdgeferError):
    """The ONNX exporter cannot translate an operator of the model."""


def _op_from_error(text: str) -> str | None:
    """The operator a dynamo-exporter error names, e.g. "aten.foo.default" or "mylib.bar"."""
    m = re.search(r"No ONNX function found for <OpOverload\(op='([\w.]+)', overload='(\w+)'", text)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    m = re.search(r"target=torch\.ops\.([\w.]+)", text)
    return m.group(1) if m else None


def export_onnx(model, example, path: Path, opset: int = MIN_OPSET, dynamic_batch: bool = False) -> dict:
    """Export `model` (eval mode) on `example` (float32 NCHW) to `path`; returns converter facts."""
    import onnx
    import torch

    if opset < MIN_OPSET:
        raise EdgeferError(f"--opset {opset} is too old for torch's dynamo exporter (needs >= {MIN_OPSET})")
    # torch.export specialises a batch of 1 to a constant: trace a batch of 2 to keep it symbolic
    x = example[:1].repeat(2, 1, 1, 1) if dynamic_batch else example[:1]
    dyn = ({0: torch.export.Dim.DYNAMIC},) if dynamic_batch else None
    t0 = time.perf_counter()
    sink = io.StringIO()
    try:
        # "torchvision is not installed" noise from torch.onnx, progress lines on stdout
        with quiet_libraries("torch.onnx"), contextlib.redirect_stdout(sink):
            torch.onnx.export(
                model, (x,), str(path), dynamo=True, opset_version=opset, external_data=False,
                dynamic_shapes=dyn, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            )
    except Exception as exc:
        text = f"{exc}\n{exc.__cause__ or ''}"
        op = _op_from_error(text)
        if op:
            raise UnsupportedOp(f"ONNX export cannot handle operator {op}") from None
        first = first_line(exc, 200)
        raise EdgeferError(f"ONNX export failed: {type(exc).__name__}: {first}") from None
    proto = onnx.load(str(path))
    if dynamic_batch:  # name the symbolic batch dimension for readers of the graph
        for v in (*proto.graph.input, *proto.graph.output):
            v.type.tensor_type.shape.dim[0].dim_param = "batch"
        onnx.save(proto, str(path))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise EdgeferError(f"exported ONNX fails onnx.checker: {first_line(exc, 200)}") from None
    return {
        "converter": "torch.onnx.export(dynamo=True)",
        "versions": {"torch": torch.__version__.split("+")[0], "onnx": onnx.__version__},
        "opset": opset,
        "dynamic_batch": dynamic_batch,
        "seconds": round(time.perf_counter() - t0, 3),
    }
