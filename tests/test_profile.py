"""edgefer.zoo.profile and the `models` / `profile` commands."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from edgefer.cli.main import run
from edgefer.errors import EdgeferError
from edgefer.zoo import create_model, get_entry, list_models
from edgefer.zoo.profile import count_params, profile_model


class _Attn(nn.Module):
    """A single-head attention over a 4x4 map: two bmm calls."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(2).transpose(1, 2)  # N, 16, C
        a = torch.softmax(t @ t.transpose(1, 2), dim=-1)
        return (a @ t).transpose(1, 2).reshape(x.shape)


def _tiny() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),  # 3*8*9 * 16 = 3456 MACs
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # depthwise: 8*9 * 16 = 1152
        nn.Conv2d(8, 16, 1, groups=2, bias=False),  # grouped: 16*4 * 16 = 1024
        _Attn(),  # 16x16x16 twice: 2 * 4096 = 8192
        nn.AdaptiveAvgPool2d(1),  # 256 input elements -> 256 FLOPs = 128 MACs
        nn.Flatten(),
        nn.Linear(16, 7),  # 112
    )


def test_counts_match_hand_computed_macs():
    prof = profile_model(_tiny(), (1, 3, 4, 4), name="tiny")
    assert prof.macs == 3456 + 1152 + 1024 + 8192 + 128 + 112
    assert prof.flops == 2 * prof.macs
    assert prof.params_total == 3 * 8 * 9 + 8 * 9 + 16 * 4 + 16 * 7 + 7
    assert prof.params_trainable == prof.params_total
    assert prof.fp32_weight_bytes == 4 * prof.params_total
    assert set(prof.flops_by_op) >= {"convolution", "bmm", "mean", "addmm"}


def test_batch_is_forced_to_one():
    assert profile_model(_tiny(), (4, 3, 4, 4)).macs == profile_model(_tiny(), (1, 3, 4, 4)).macs


def test_impossible_input_is_a_user_error():
    with pytest.raises(EdgeferError, match="cannot run on input shape"):
        profile_model(_tiny(), (1, 5, 4, 4), name="tiny")


def test_unknown_model_suggests_close_names(capsys):
    names = list_models()
    if not names:
        pytest.skip("zoo empty")
    typo = names[0][:-1]
    assert run(["profile", typo]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model" in err and "did you mean" in err


@pytest.mark.parametrize("args", [["--input-size", "0", "48"], ["--channels", "0"], ["--num-classes", "0"]])
def test_bad_flag_values_are_one_line_errors(args, capsys):
    names = list_models()
    if not names:
        pytest.skip("zoo empty")
    assert run(["profile", names[0], *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_profile_json_for_a_zoo_model(capsys):
    name = "mobilenet_v1" if "mobilenet_v1" in list_models() else None
    if name is None:
        pytest.skip("mobilenet_v1 not in the zoo")
    assert run(["profile", name, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    entry = get_entry(name)
    assert data["input_shape"] == [1, entry.in_chans, *entry.input_size]
    assert data["macs"] > 0 and data["flops"] == 2 * data["macs"]


def test_models_json_lists_every_model(capsys):
    assert run(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_models()
    for r in rows:
        assert r["params"] > 0 and r["paper"] and len(r["class_names"]) == 7
    # counted on the meta device: the same count as a real model
    real = {name: count_params(create_model(name))[0] for name in ("mobilenet_v1", "dcrnet", "ctan")}
    assert {r["name"]: r["params"] for r in rows if r["name"] in real} == real
