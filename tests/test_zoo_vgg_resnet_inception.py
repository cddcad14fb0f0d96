"""Seed 004's zoo models: VGG-19, ResNet-50, Inception-v3, each plain and with CBAM.

The models are large, so each one gets exactly one real forward + ONNX export at its default input;
structural checks (reference params/MACs, head sizes, output shapes) run on the meta device.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from edgefer.errors import EdgeferError
from edgefer.zoo.attention import CBAM
from edgefer.zoo.registry import create_model, get_entry

SEED_004 = "004_d63269fea6bde54f"
MODELS = ("vgg19", "vgg19_cbam", "resnet50", "resnet50_cbam", "inception_v3", "inception_v3_cbam")
# Smallest input each model accepts (and a size one pixel below it, where there is one).
MIN_INPUT = {"vgg19": 32, "vgg19_cbam": 32, "resnet50": 1, "resnet50_cbam": 1,
             "inception_v3": 75, "inception_v3_cbam": 75}
# CBAM placement read from the paper: VGG one per conv stage, ResNet one per bottleneck,
# Inception one per Mixed_* block.
CBAM_COUNT = {"vgg19_cbam": 5, "resnet50_cbam": 16, "inception_v3_cbam": 11}


@functools.cache
def _seeded_model(name: str) -> torch.nn.Module:
    # Built once per model and shared (read-only, eval mode): VGG-19 alone is 140 M parameters.
    return create_model(name, seed=0)


@pytest.fixture(scope="module", autouse=True)
def _release_cached_models():
    # ~1.6 GB of weights: don't keep them for the rest of the test session.
    yield
    _seeded_model.cache_clear()


def _meta_model(name: str, **kw) -> torch.nn.Module:
    with torch.device("meta"):
        return get_entry(name).factory(**kw).eval()


def _params_and_macs(model: torch.nn.Module, size: tuple[int, int]) -> tuple[int, int]:
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, *size))
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def _input(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", MODELS)
def test_registered_with_papers_input(name):
    entry = get_entry(name)
    assert entry.paper == SEED_004
    assert entry.in_chans == 3
    # The paper: "VGG and ResNet require 224 x 224, Inception requires 299 x 299".
    assert entry.input_size == ((299, 299) if name.startswith("inception") else (224, 224))


@pytest.mark.parametrize("name", MODELS)
def test_forward_and_onnx_export_match_torch(name, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    entry = get_entry(name)
    model = _seeded_model(name)
    x = _input(entry.input_shape(1))
    with torch.no_grad():
        expected = model(x).numpy()
    assert expected.shape == (1, 7)
    assert np.isfinite(expected).all()

    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=True, opset_version=18, external_data=False)
    onnx.checker.check_model(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert len(session.get_outputs()) == 1  # no aux head in the exported graph
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    scale = float(np.abs(expected).max())
    assert scale > 0
    assert np.abs(got - expected).max() <= 1e-4 * scale


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_model(name):
    a = _seeded_model(name)
    b = create_model(name, seed=0)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # Outputs compared at the smallest input the model takes (cheap, and exercises small inputs).
    x = _input((1, 3, max(MIN_INPUT[name], 32), max(MIN_INPUT[name], 32)))
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


@pytest.mark.parametrize(
    ("name", "size", "published_params", "published_macs"),
    [
        # torchvision's reference figures for the ImageNet configurations.
        ("vgg19", (224, 224), 143.667e6, 19.63e9),
        ("resnet50", (224, 224), 25.557e6, 4.09e9),
        ("inception_v3", (299, 299), 23.8e6, 5.71e9),
    ],
)
def test_standard_configuration_matches_reference(name, size, published_params, published_macs):
    params, macs = _params_and_macs(_meta_model(name, num_classes=1000), size)
    assert params == pytest.approx(published_params, rel=0.03)
    assert macs == pytest.approx(published_macs, rel=0.03)


def test_inception_aux_head_is_training_only_and_matches_reference():
    model = _meta_model("inception_v3", num_classes=1000, aux_logits=True)
    params, _ = _params_and_macs(model, (299, 299))
    assert params == pytest.approx(27.16e6, rel=0.03)  # torchvision, aux head included
    with torch.device("meta"):
        model.train()
        logits, aux = model(torch.empty(2, 3, 299, 299))
        assert logits.shape == aux.shape == (2, 1000)
        model.eval()
        assert model(torch.empty(2, 3, 299, 299)).shape == (2, 1000)
        model.train()
        with pytest.raises(EdgeferError, match="aux"):
            model(torch.empty(1, 3, 224, 224))


@pytest.mark.parametrize("name", sorted(CBAM_COUNT))
def test_cbam_placement(name):
    model = _meta_model(name)
    cbams = [m for m in model.modules() if isinstance(m, CBAM)]
    assert len(cbams) == CBAM_COUNT[name]
    plain = _meta_model(name.removesuffix("_cbam"))
    cbam_params = sum(p.numel() for c in cbams for p in c.parameters())
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == sum(p.numel() for p in plain.parameters()) + cbam_params
    # The plain models carry no CBAM at all.
    assert not any(isinstance(m, CBAM) for m in plain.modules())


@pytest.mark.parametrize(
    ("name", "keys", "n_keys"),
    [
        ("vgg19", ("features.0.weight", "features.34.bias", "classifier.6.weight"), 38),
        ("resnet50", ("conv1.weight", "layer1.0.downsample.1.running_var", "layer4.2.bn3.weight",
                      "fc.bias"), 320),
        ("inception_v3", ("Conv2d_1a_3x3.conv.weight", "Mixed_6e.branch7x7dbl_5.bn.running_mean",
                          "Mixed_7c.branch3x3dbl_3b.conv.weight", "fc.weight"), None),
    ],
)
def test_state_dict_keys_follow_torchvision(name, keys, n_keys):
    sd = _meta_model(name).state_dict()
    assert set(keys) <= set(sd)
    if n_keys is not None:
        assert len(sd) == n_keys


@pytest.mark.parametrize("name", MODELS)
def test_num_classes_and_channels_honoured(name):
    model = _meta_model(name, num_classes=3, in_chans=1)
    h, w = get_entry(name).input_size
    with torch.device("meta"):
        assert model(torch.empty(2, 1, h, w)).shape == (2, 3)


@pytest.mark.parametrize("name", MODELS)
def test_smallest_input_runs_and_smaller_raises(name):
    model = _seeded_model(name)
    side = MIN_INPUT[name]
    with torch.no_grad():
        assert model(_input((1, 3, side, side))).shape == (1, 7)
        if side > 1:
            with pytest.raises(EdgeferError, match=f"at least {side}x{side}"):
                model(_input((1, 3, side - 1, side)))


def test_fer2013_native_48px_runs_where_possible():
    # FER2013's own 48x48 faces: VGG and ResNet take them, Inception-v3 cannot (needs 75x75).
    x = _input((1, 3, 48, 48))
    with torch.no_grad():
        assert _seeded_model("resnet50_cbam")(x).shape == (1, 7)
        assert _seeded_model("vgg19_cbam")(x).shape == (1, 7)
    with pytest.raises(EdgeferError):
        _seeded_model("inception_v3")(x)
