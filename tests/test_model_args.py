"""Zoo model keyword arguments on the command line: `profile`/`convert --model-arg KEY=VALUE`."""

from __future__ import annotations

import json

import pytest

from edgefer.cli.main import run
from edgefer.cli.model_args import parse_model_args
from edgefer.errors import EdgeferError
from edgefer.zoo.registry import accepted_kwargs


def test_values_are_yaml_scalars():
    assert parse_model_args(["head=imagenet", "ca=true", "dropout=0.2", "dka_kernels=[3,5,7]", "act="]) == {
        "head": "imagenet", "ca": True, "dropout": 0.2, "dka_kernels": [3, 5, 7], "act": ""}


@pytest.mark.parametrize("items, message", [
    (["head"], "--model-arg takes KEY=VALUE"),
    (["1x=2"], "--model-arg takes KEY=VALUE"),
    (["a=1", "a=2"], "--model-arg a given twice"),
    (["a={b: 1}"], "is a mapping"),
])
def test_bad_model_args(items, message):
    with pytest.raises(EdgeferError, match=message):
        parse_model_args(items)


def test_accepted_kwargs_read_from_factory_and_class():
    assert accepted_kwargs("mobilenetv3_large") == ["head", "act", "dka_kernels", "ca"]
    assert "cbam" in accepted_kwargs("resnet50")


def test_profile_with_model_args(capsys):
    assert run(["profile", "mobilenetv3_large", "--model-arg", "head=imagenet", "--num-classes", "1000", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    assert prof["params_total"] == 5483032  # the standard ImageNet MobileNetV3-Large (torchvision's count)
    assert run(["profile", "mobilenetv3_large", "--model-arg", "act=hardswish", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params_total"] == 3095991


def test_unknown_or_rejected_model_arg_is_one_line_exit_2(capsys):
    assert run(["profile", "mobilenetv3_large", "--model-arg", "hed=imagenet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: model mobilenetv3_large takes no argument 'hed' (it accepts: head, act, dka_kernels, ca)"
    assert run(["profile", "mobilenetv3_large", "--model-arg", "head=bad"]) == 2
    assert "rejects head='bad'" in capsys.readouterr().err
    assert run(["convert", "mobilenet_v1", "--model-arg", "nope=1", "--to", "onnx", "--precision", "fp32"]) == 2
    assert "takes no argument 'nope' (it accepts: skip, mha)" in capsys.readouterr().err


def test_convert_records_the_model_args(tmp_path, capsys):
    out = tmp_path / "c"
    assert run(["convert", "mobilenet_v1", "--model-arg", "skip=true", "--to", "onnx", "--precision", "fp32",
                "--no-verify", "-o", str(out), "--json"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["source"]["args"] == {"skip": True} and m["model"]["params_total"] == 3915911
