"""TFLite conversion (litert-torch fp32, ai-edge-quantizer int8) and the LiteRT runtime.

Models are made into real classifiers of synthetic 7-class data (class template + noise) so that
top-1 agreement is measured on a model whose predictions actually vary across classes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from edgefer.errors import EdgeferError  # noqa: E402

pytestmark = pytest.mark.tflite
H = W = 32


def _needs_tflite() -> None:
    for mod in ("litert_torch", "ai_edge_quantizer", "ai_edge_litert"):
        pytest.importorskip(mod)


def _block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def tiny_net() -> nn.Sequential:
    return nn.Sequential(
        *_block(1, 32), *_block(32, 64, 2), *_block(64, 64, 2),
        nn.Conv2d(64, 96, 3, 1, 1), nn.Hardswish(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 7),
    )


def cbam_net() -> nn.Sequential:
    from edgefer.zoo.attention import CBAM

    return nn.Sequential(
        *_block(1, 32), *_block(32, 64, 2), CBAM(64, reduction=8), *_block(64, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 7),
    )


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """7 fixed blocky templates + Gaussian noise, NCHW float32."""
    templates = np.random.default_rng(123).standard_normal((7, 1, 4, 4)).astype(np.float32)
    templates = np.kron(templates, np.ones((1, 1, H // 4, W // 4), np.float32))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 7, n)
    return (templates[y] + 0.8 * rng.standard_normal((n, 1, H, W))).astype(np.float32), y


def fit_head(model: nn.Sequential, n: int = 500) -> nn.Sequential:
    """Make the random net a real classifier cheaply: BN statistics from the data, then the last
    Linear solved by ridge regression on the (random) conv features. No backprop, ~2 s."""
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.momentum = None  # cumulative average over the one pass below
    x, y = synthetic(n, 1)
    with torch.no_grad():
        model.train()
        model(torch.from_numpy(x))
        model.eval()
        feats = model[:-1](torch.from_numpy(x))
        feats = torch.cat([feats, torch.ones(n, 1)], 1)
        target = nn.functional.one_hot(torch.from_numpy(y), 7).float() * 2 - 1
        sol = torch.linalg.solve(feats.T @ feats + 1e-2 * torch.eye(feats.shape[1]), feats.T @ target)
        model[-1].weight.copy_(sol[:-1].T)
        model[-1].bias.copy_(sol[-1])
    return model


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    """Both nets trained, exported fp32, quantized int8 (int8 I/O); tiny also with float I/O."""
    _needs_tflite()
    from edgefer.convert.tflite import export_tflite_fp32, quantize_tflite_int8

    out = tmp_path_factory.mktemp("tflite")
    calib, _ = synthetic(64, 1000)
    res: dict = {"dir": out}
    for name, factory in (("tiny", tiny_net), ("cbam", cbam_net)):
        torch.manual_seed(0)
        model = fit_head(factory())
        fp32 = out / f"{name}_fp32.tflite"
        res[name] = {
            "model": model,
            "fp32": fp32,
            "fp32_info": export_tflite_fp32(model, torch.zeros(1, 1, H, W), fp32),
            "int8": out / f"{name}_int8.tflite",
        }
        res[name]["int8_info"] = quantize_tflite_int8(fp32, calib, res[name]["int8"])
    res["tiny"]["int8f"] = out / "tiny_int8_floatio.tflite"
    res["tiny"]["int8f_info"] = quantize_tflite_int8(
        res["tiny"]["fp32"], calib, res["tiny"]["int8f"], io_dtype="float32"
    )
    return res


def _torch_logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _open(path: Path, **options):
    from edgefer.runner.runtimes import open_runtime

    return open_runtime(str(path), threads=1, **options)


# --- fp32 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny", "cbam"])
def test_fp32_parity_with_torch(converted, name):
    entry = converted[name]
    info = entry["fp32_info"]
    assert info["converter"] == "litert-torch" and info["input_layout"] == "NHWC"
    assert info["input_shape"] == [1, H, W, 1] and info["seconds"] > 0
    x, _ = synthetic(16, 7)
    rt = _open(entry["fp32"])
    assert rt.inputs[0].layout == "NHWC" and rt.inputs[0].shape == [1, H, W, 1]
    diff = np.abs(rt.predict(x) - _torch_logits(entry["model"], x)).max()
    assert diff < 1e-4, diff


def test_export_is_atomic_and_readable(converted):
    names = sorted(p.name for p in converted["dir"].iterdir())
    assert all(n.endswith(".tflite") and not n.startswith(".") for n in names), names
    umask = os.umask(0)
    os.umask(umask)
    # the temp file's 0600 must not leak into the artifact (deploy copies it to other users)
    assert converted["tiny"]["int8"].stat().st_mode & 0o777 == 0o666 & ~umask


# --- int8 ------------------------------------------------------------------------------------
def _weighted_ops(path: Path) -> list[dict]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = [o for o in interp._get_ops_details() if o["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    return [{"op": o["op_name"], "weight": tensors[o["inputs"][1]], "input": tensors[o["inputs"][0]]} for o in ops]


@pytest.mark.parametrize("name", ["tiny", "cbam"])
def test_int8_has_int8_kernels(converted, name):
    ops = _weighted_ops(converted[name]["int8"])
    assert len(ops) >= 4
    for op in ops:
        assert np.dtype(op["weight"]["dtype"]) == np.int8, op["op"]
        assert np.dtype(op["input"]["dtype"]) == np.int8, op["op"]
        # per-channel weight scales: one per output channel (axis 3 for depthwise, 0 otherwise)
        qp = op["weight"]["quantization_parameters"]
        assert len(qp["scales"]) == op["weight"]["shape"][qp["quantized_dimension"]]
    assert sum(len(op["weight"]["quantization_parameters"]["scales"]) > 1 for op in ops) >= 4
    info = converted[name]["int8_info"]
    # ai-edge-quantizer 0.10 has no int8 REDUCE_MAX: CBAM's two amax stay float, nothing else
    expected_float = {} if name == "tiny" else {"REDUCE_MAX": 2}
    assert info["float_ops"] == expected_float
    assert info["ops_float"] == sum(expected_float.values())


def test_int8_is_smaller(converted):
    info = converted["tiny"]["int8_info"]
    ratio = info["size_bytes"] / info["fp32_size_bytes"]
    print(f"int8/fp32 size ratio: {ratio:.3f}")
    assert info["size_bytes"] == converted["tiny"]["int8"].stat().st_size
    assert ratio <= 0.35


@pytest.mark.parametrize("name,threshold", [("tiny", 0.9), ("cbam", 0.9)])
def test_int8_top1_agreement(converted, name, threshold):
    x, y = synthetic(300, 4242)
    ref = _torch_logits(converted[name]["model"], x)
    # the trained model must predict many classes, or agreement would be trivially high
    assert len(np.unique(ref.argmax(1))) >= 5
    q = _open(converted[name]["int8"]).predict(x)
    agreement = float((q.argmax(1) == ref.argmax(1)).mean())
    print(f"{name}: int8 top-1 agreement {agreement:.3f}, fp32 acc {(ref.argmax(1) == y).mean():.3f}")
    assert agreement >= threshold


def test_int8_io_dtypes(converted):
    tiny = converted["tiny"]
    q_io, f_io = _open(tiny["int8"]), _open(tiny["int8f"])
    assert q_io.inputs[0].dtype == "int8" and q_io.inputs[0].quantization is not None
    assert q_io.outputs[0].dtype == "int8" and q_io.outputs[0].quantization is not None
    assert f_io.inputs[0].dtype == "float32" and f_io.outputs[0].dtype == "float32"
    assert tiny["int8f_info"]["io_dtype"] == "float32" and tiny["int8f_info"]["ops_float"] == 0
    assert tiny["int8f_info"]["quantize_dequantize_ops"] == 2
    # same int8 graph inside: the two variants agree up to input rounding
    x, _ = synthetic(64, 99)
    a, b = q_io.predict(x), f_io.predict(x)
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.95
    assert np.abs(a - b).max() <= 4 * q_io.outputs[0].quantization["scale"]


def test_predict_matches_manual_quantization(converted):
    """predict(): NCHW -> NHWC, float -> int8 with the input scale/zero point, int8 -> float."""
    rt = _open(converted["tiny"]["int8"])
    inp, out = rt.inputs[0], rt.outputs[0]
    x, _ = synthetic(3, 5)  # batch 3 > the model's batch 1: predict loops
    s, z = inp.quantization["scale"], inp.quantization["zero_point"]
    rows = []
    for sample in x:
        nhwc = sample[None].transpose(0, 2, 3, 1)
        q = np.clip(np.round(nhwc / s) + z, -128, 127).astype(np.int8)
        raw = rt.run([q])[0]
        rows.append((raw.astype(np.float32) - out.quantization["zero_point"]) * out.quantization["scale"])
    np.testing.assert_allclose(rt.predict(x), np.concatenate(rows), atol=1e-6)


def test_predict_nchw_model(tmp_path):
    """A third-party-style .tflite with NCHW input is detected as such and fed unchanged."""
    _needs_tflite()
    import litert_torch

    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    path = tmp_path / "nchw.tflite"
    litert_torch.convert(model, (torch.zeros(1, 3, 16, 16),)).export(str(path))
    rt = _open(path)
    assert rt.inputs[0].layout == "NCHW" and rt.inputs[0].shape == [1, 3, 16, 16]
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(rt.predict(x), _torch_logits(model, x), atol=1e-5)


def test_describe_and_xnnpack_switch(converted):
    on, off = _open(converted["tiny"]["int8"]), _open(converted["tiny"]["int8"], xnnpack=False)
    d_on, d_off = on.describe(), off.describe()
    assert d_on["name"] == "litert" and d_on["threads"] == 1 and d_on["version"]
    assert d_on["delegates"] == ["XNNPACK"] and d_off["delegates"] == []
    assert d_on["inputs"][0]["layout"] == "NHWC" and d_on["inputs"][0]["dtype"] == "int8"
    x, _ = synthetic(64, 3)
    # XNNPACK and the builtin int8 kernels requantize differently (measured: up to ~10 output
    # steps apart on this net), so compare decisions, not bits
    a, b = on.predict(x), off.predict(x)
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.95


# --- user errors -----------------------------------------------------------------------------
def test_corrupt_or_truncated_file(tmp_path, converted):
    bad = tmp_path / "garbage.tflite"
    bad.write_bytes(b"\x00not a flatbuffer" * 64)
    with pytest.raises(EdgeferError, match="garbage.tflite"):
        _open(bad)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(converted["tiny"]["fp32"].read_bytes()[:2000])
    with pytest.raises(EdgeferError):
        _open(truncated)
    from edgefer.convert.tflite import quantize_tflite_int8

    with pytest.raises(EdgeferError, match="garbage.tflite"):
        quantize_tflite_int8(bad, synthetic(4, 0)[0], tmp_path / "q.tflite")


def test_quantize_rejects_bad_arguments(tmp_path, converted):
    from edgefer.convert.tflite import quantize_tflite_int8

    fp32 = converted["tiny"]["fp32"]
    with pytest.raises(EdgeferError, match="io_dtype"):
        quantize_tflite_int8(fp32, synthetic(4, 0)[0], tmp_path / "q.tflite", io_dtype="uint8")
    with pytest.raises(EdgeferError, match="calibration data"):
        quantize_tflite_int8(fp32, np.zeros((4, 3, H, W), np.float32), tmp_path / "q.tflite")
    with pytest.raises(EdgeferError, match="fp32 model"):
        quantize_tflite_int8(converted["tiny"]["int8"], synthetic(4, 0)[0], tmp_path / "q.tflite")
    assert not (tmp_path / "q.tflite").exists()


def test_unsupported_op_is_named(tmp_path):
    _needs_tflite()
    from edgefer.convert.tflite import UnsupportedOp, export_tflite_fp32

    class MaxPoolHead(nn.Module):
        def forward(self, x):
            return nn.functional.adaptive_max_pool2d(x, 1).flatten(1)

    with pytest.raises(UnsupportedOp, match="adaptive_max_pool2d") as err:
        export_tflite_fp32(MaxPoolHead(), torch.zeros(1, 3, 8, 8), tmp_path / "m.tflite")
    assert "TFLite" in err.value.one_line()
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("module", ["litert_torch", "ai_edge_quantizer"])
def test_tflite_unavailable(monkeypatch, tmp_path, module):
    from edgefer.convert.tflite import TFLiteUnavailable, export_tflite_fp32, quantize_tflite_int8

    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(TFLiteUnavailable) as err:
        if module == "litert_torch":
            export_tflite_fp32(nn.Conv2d(1, 1, 1), torch.zeros(1, 1, 4, 4), tmp_path / "m.tflite")
        else:
            quantize_tflite_int8(tmp_path / "m.tflite", np.zeros((1, 1, 4, 4), np.float32), tmp_path / "q.tflite")
    assert 'pip install "edgefer[tflite]"' in err.value.one_line()
    assert isinstance(err.value, EdgeferError)
