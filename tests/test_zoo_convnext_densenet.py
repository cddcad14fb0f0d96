"""Seed 002 (convnext_tiny, ctan) and seed 003 (densenet121, dcrnet) zoo models, their
attention blocks and the EMA utility.

The models are large, so each is built once per module (`_model`) and exported once.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from edgefer.zoo import create_model, get_entry
from edgefer.zoo.attention import EfficientAttention, ShuffleAttention
from edgefer.zoo.ema import ModelEma

MODELS = ("convnext_tiny", "ctan", "densenet121", "dcrnet")

# Exact parameter counts at the default 7 classes, as quoted in the docstrings and
# README.md (zoo section): a changed architecture must update both.
PARAMS_7_CLASSES = {
    "convnext_tiny": 27_825_511,
    "ctan": 29_143_639,
    "densenet121": 6_961_031,
    "dcrnet": 11_150_573,
}


@functools.cache
def _model(name: str) -> nn.Module:
    return create_model(name, seed=0)


def _default_input(name: str) -> torch.Tensor:
    return torch.randn(get_entry(name).input_shape(1), generator=torch.Generator().manual_seed(0))


@functools.cache
def _logits(name: str) -> torch.Tensor:
    """The one torch forward pass per model on its default input, shared by the tests."""
    with torch.no_grad():
        return _model(name)(_default_input(name))


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _measure_on_meta(name: str, num_classes: int = 7) -> tuple[int, int, tuple[int, ...]]:
    """(params, MACs, output shape) at the default input, with no real weights or compute:
    FlopCounterMode counts from shapes, so a meta-device model is enough."""
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes, seed=0)
        x = torch.zeros(get_entry(name).input_shape(1))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = model(x)
    return _params(model), counter.get_total_flops() // 2, tuple(y.shape)  # 2 FLOPs per MAC


@pytest.mark.parametrize("name", MODELS)
def test_forward_shape_and_param_count(name):
    entry = get_entry(name)
    assert entry.paper in ("002_8e26bb8eadca2c31", "003_9e253a67ccb13943")
    assert entry.input_size == (224, 224) and entry.in_chans == 3
    y = _logits(name)
    assert y.shape == (1, 7)
    assert torch.isfinite(y).all()
    assert _params(_model(name)) == PARAMS_7_CLASSES[name]


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_weights_and_outputs(name):
    again = create_model(name, seed=0)
    sd1, sd2 = _model(name).state_dict(), again.state_dict()
    assert sd1.keys() == sd2.keys()
    assert all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    with torch.no_grad():
        assert torch.equal(again(_default_input(name)), _logits(name))


@pytest.mark.parametrize("name", MODELS)
def test_onnx_export_matches_torch(name, tmp_path):
    model, x = _model(name), _default_input(name)
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True, opset_version=18, external_data=False)
    onnx.checker.check_model(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    want = _logits(name).numpy()
    assert got.shape == want.shape
    scale = float(np.abs(want).max())
    assert scale > 0
    assert float(np.abs(got - want).max()) <= 1e-4 * scale


@pytest.mark.parametrize(
    "name, published_params, published_macs",
    [
        ("convnext_tiny", 28.6e6, 4.5e9),  # Liu et al. 2022, Table 10 (ImageNet-1k, 224^2)
        ("densenet121", 7.98e6, 2.9e9),  # torchvision's DenseNet-121 figures (224^2)
    ],
)
def test_imagenet_configuration_matches_published_figures(name, published_params, published_macs):
    params, macs, out_shape = _measure_on_meta(name, num_classes=1000)
    assert out_shape == (1, 1000)
    assert params == pytest.approx(published_params, rel=0.03)
    assert macs == pytest.approx(published_macs, rel=0.03)


def test_dcrnet_close_to_published_size():
    # Seed 003 Sec. 4.3: 11.6 M params. Our reading lands 3.9 % below (see dcrnet docstring);
    # its 4.2 GFLOPs cannot be met by any head since the backbone alone is 2.83 G MACs.
    params, macs, _ = _measure_on_meta("dcrnet")
    assert params == pytest.approx(11.6e6, rel=0.05)
    assert 2.9e9 < macs < 3.1e9


@pytest.mark.parametrize("name", MODELS)
def test_num_classes_honoured(name):
    _, _, out_shape = _measure_on_meta(name, num_classes=3)
    assert out_shape == (1, 3)


def test_shuffle_attention_matches_sa_net_reference():
    torch.manual_seed(0)
    block = ShuffleAttention(64, groups=4).eval()
    with torch.no_grad():
        for p in block.parameters():  # the reference init (zeros/ones) would hide the gates
            p.normal_()
        x = torch.randn(2, 64, 5, 6)
        # SA-Net reference forward, with nn.GroupNorm and an explicit channel shuffle
        g = x.reshape(2 * 4, 16, 5, 6)
        xc, xs = g.chunk(2, dim=1)
        xc = xc * torch.sigmoid(block.cweight * xc.mean((2, 3), keepdim=True) + block.cbias)
        xs = xs * torch.sigmoid(block.sweight * block.gn(xs) + block.sbias)
        ref = torch.cat([xc, xs], 1).reshape(2, 64, 5, 6)
        ref = ref.reshape(2, 2, 32, 5, 6).permute(0, 2, 1, 3, 4).reshape(2, 64, 5, 6)
        torch.testing.assert_close(block(x), ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        ShuffleAttention(48, groups=64)


def test_efficient_attention_keeps_shape_and_uses_both_branches():
    torch.manual_seed(0)
    block = EfficientAttention(32).eval()
    x = torch.randn(1, 32, 7, 7)
    with torch.no_grad():
        y = block(x)
        assert y.shape == x.shape
        # the fusion conv sees [global (32 ch), local (32 ch)]: silencing either half must
        # change the output, i.e. both branches reach it
        for half in (slice(0, 32), slice(32, 64)):
            silenced = EfficientAttention(32).eval()
            silenced.load_state_dict(block.state_dict())
            nn.init.zeros_(silenced.fuse[0].weight[:, half])
            assert not torch.allclose(y, silenced(x), atol=1e-4)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)


def test_model_ema_update_and_copy():
    torch.manual_seed(0)
    model = _Tiny()
    ema = ModelEma(model, decay=0.9)
    w0 = model.fc.weight.detach().clone()
    with torch.no_grad():
        model.fc.weight.add_(1.0)
        model.bn.running_mean.fill_(2.0)
    model.bn.num_batches_tracked.fill_(5)
    ema.update(model)
    # shadow = 0.9 * old + 0.1 * new (seed 002 Eq. 4 with alpha = 0.1)
    torch.testing.assert_close(ema.shadow["fc.weight"], w0 + 0.1)
    torch.testing.assert_close(ema.shadow["bn.running_mean"], torch.full((2,), 0.2))
    assert int(ema.shadow["bn.num_batches_tracked"]) == 5
    ema.update(model)  # second step: 0.9 * (w0 + 0.1) + 0.1 * (w0 + 1)
    torch.testing.assert_close(ema.shadow["fc.weight"], w0 + 0.19)

    target = _Tiny()
    ema.copy_to(target)
    torch.testing.assert_close(target.fc.weight, w0 + 0.19)
    # the shadow is a copy: training the model further does not move it
    with torch.no_grad():
        model.fc.weight.add_(10.0)
    torch.testing.assert_close(ema.shadow["fc.weight"], w0 + 0.19)


def test_model_ema_rejects_bad_input():
    with pytest.raises(ValueError):
        ModelEma(_Tiny(), decay=1.5)
    with pytest.raises(ValueError):
        ModelEma(_Tiny()).update(nn.Linear(3, 2))
