"""fp16 artifacts: ONNX (onnxconverter-common) and TFLite (ai-edge-quantizer float_casting) from a
zoo model, verified against PyTorch at the stated fp16 tolerance, about half the fp32 size, in the
manifest like the other precisions, and run by ORT CPU and LiteRT CPU here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgefer.convert.fp16 import FLOOR_FACTOR, FP16_PARITY_TOL

pytestmark = pytest.mark.tflite
MODEL = "mobilenet_v1"
# TinyNet at width 64 (~83 k parameters): weights dominate the file, so the fp16/fp32 size ratio
# means something, and it converts in seconds (a zoo model takes a minute for both formats)
TINY = {"module": "tests/_convert_fixtures.py:build_tiny", "module_args": {"width": 64}, "input_size": (48, 48),
        "channels": 1}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, dict]:
    from edgefer.convert.api import ConvertOptions, convert

    out = tmp_path_factory.mktemp("fp16") / "tiny"
    res = convert(ConvertOptions(**TINY, out=out, precisions=("fp16",)))
    return out, res.manifest


def _record(manifest: dict, fmt: str, precision: str) -> dict:
    return next(a for a in manifest["artifacts"] if a["format"] == fmt and a["precision"] == precision)


def test_manifest_lists_only_the_fp16_artifacts(converted):
    out, m = converted
    assert {(a["format"], a["precision"]) for a in m["artifacts"]} == {("onnx", "fp16"), ("tflite", "fp16")}
    for a in m["artifacts"]:
        assert (out / a["file"]).is_file() and a["file"].endswith(("_fp16.onnx", "_fp16.tflite"))
        p = a["verification"]["parity"]
        assert p["tolerance_rel"] == max(FP16_PARITY_TOL, FLOOR_FACTOR * p["fp16_weight_rounding_floor_rel"])
    assert m["settings"]["fp16_parity_tolerance_rel"] == "max(1e-2, 3 x weight-rounding floor)"


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_fp16_is_verified_against_pytorch_at_the_fp16_tolerance(converted, fmt):
    _, m = converted
    v = _record(m, fmt, "fp16")["verification"]
    assert v["passed"], v
    p = v["parity"]
    # a net where fp16 rounding stays small: the plain 1e-2 gate holds
    assert 0 < p["fp16_weight_rounding_floor_rel"] < FP16_PARITY_TOL / FLOOR_FACTOR
    assert p["tolerance_rel"] == FP16_PARITY_TOL and p["max_rel_diff"] <= FP16_PARITY_TOL
    assert p["max_abs_diff"] > 0  # really fp16: not bit-identical to the fp32 reference
    # weights-only fp16 (TFLite) differs from PyTorch by about the weight rounding itself
    if fmt == "tflite":
        assert p["max_rel_diff"] <= 2 * p["fp16_weight_rounding_floor_rel"]
    assert v["top1_agreement"] >= 0.9


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_fp16_is_about_half_the_fp32_size(converted, fmt):
    _, m = converted
    a = _record(m, fmt, "fp16")
    ratio = a["size_bytes"] / a["fp32_size_bytes"]
    assert 0.45 <= ratio <= 0.56, ratio


def test_onnx_fp16_keeps_float32_io_and_float16_weights(converted):
    import onnx

    out, m = converted
    a = _record(m, "onnx", "fp16")
    proto = onnx.load(str(out / a["file"]))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dtypes = {i.data_type for i in proto.graph.initializer if len(i.dims) > 1}
    assert dtypes == {onnx.TensorProto.FLOAT16}
    assert a["keep_io_types"] and "Resize" in a["fp32_op_block_list"] and a["cast_ops"] >= 2


def test_tflite_fp16_has_float16_weights_and_float32_io(converted):
    out, m = converted
    a = _record(m, "tflite", "fp16")
    assert a["float16_tensors"] > 0 and a["dequantize_ops"] == a["float16_tensors"]
    from edgefer.runner.runtimes import open_runtime

    rt = open_runtime(str(out / a["file"]))
    assert rt.inputs[0].dtype == "float32" and rt.outputs[0].dtype == "float32"


@pytest.mark.parametrize("fmt,runtime", [("onnx", "onnxruntime"), ("tflite", "litert")])
def test_bench_records_fp16(converted, fmt, runtime):
    from edgefer.bench.api import bench
    from edgefer.runner.settings import BenchSettings

    out, _ = converted
    (r,) = bench(str(out), BenchSettings(runs=3, warmup=1, min_seconds=0, energy="none"), fmt=fmt, precision="fp16")
    assert r["artifact"]["precision"] == "fp16" and r["runtime"]["name"] == runtime
    assert r["statistics"]["n"] >= 3


def test_fp16_tolerance_gates_a_broken_conversion(converted, tmp_path):
    """The gate is real: an fp16 file whose weights were damaged fails verification."""
    import onnx
    from onnx import numpy_helper

    from edgefer.convert.verify import parity

    out, m = converted
    a = _record(m, "onnx", "fp16")
    proto = onnx.load(str(out / a["file"]))
    w = max(proto.graph.initializer, key=lambda i: int(np.prod(i.dims)))
    arr = numpy_helper.to_array(w)
    w.CopyFrom(numpy_helper.from_array((arr * 1.5).astype(arr.dtype), w.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(proto, str(bad))
    from edgefer.runner.runtimes import open_runtime

    x = np.random.default_rng(1).standard_normal((4, 1, 48, 48)).astype(np.float32)
    good, broken = open_runtime(str(out / a["file"])).predict(x), open_runtime(str(bad)).predict(x)
    assert not parity(good, broken, FP16_PARITY_TOL)["passed"]


def test_fp16_tolerance_option(tmp_path):
    """--fp16-parity-tol sets the gate (here so tight that fp16 must fail it: exit 1 semantics)."""
    from edgefer.convert.api import ConvertOptions, convert
    from edgefer.errors import EdgeferError

    res = convert(ConvertOptions(**TINY, out=tmp_path / "t", formats=("onnx",), precisions=("fp16",),
                                 fp16_parity_tol=1e-9), check=False)
    (a,) = res.manifest["artifacts"]
    assert a["verification"]["parity"]["tolerance_rel"] == 1e-9 and not a["verification"]["passed"]
    assert res.violations and "> 1e-09" in res.violations[0]
    with pytest.raises(EdgeferError, match="--fp16-parity-tol must be > 0"):
        convert(ConvertOptions(model=MODEL, out=tmp_path / "x", precisions=("fp16",), fp16_parity_tol=0))


def test_torch_runtime_refuses_fp16():
    from edgefer.bench.api import bench
    from edgefer.errors import EdgeferError
    from edgefer.runner.settings import BenchSettings

    with pytest.raises(EdgeferError, match="fp32 source model"):
        bench(MODEL, BenchSettings(energy="none"), runtime="torch", precision="fp16")
