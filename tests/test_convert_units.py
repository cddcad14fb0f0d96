"""edgefer.convert pieces without exporting: weights/module loading and verification maths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _convert_fixtures import build_tiny

from edgefer.convert.model_source import resolve_model
from edgefer.convert.verify import agreement, classification, int8_gates, parity
from edgefer.errors import EdgeferError

TINY = "tests/_convert_fixtures.py:build_tiny"


def _resolve(**kw):
    return resolve_model(module=TINY, input_size=(24, 24), channels=1, **kw)


def test_module_factory_args_and_defaults():
    ms = _resolve(module_args={"num_classes": 3, "width": 4})
    assert ms.class_names == ["class_0", "class_1", "class_2"]
    assert ms.spec.color == "grayscale" and ms.spec.mean == (0.5,)
    assert ms.source == {"type": "module", "module": TINY, "args": {"num_classes": 3, "width": 4}}
    ms7 = _resolve()
    assert ms7.class_names[1] == "disgust"  # 7 outputs -> the FER2013 classes
    with pytest.raises(EdgeferError, match="2 class names given but the model outputs 7"):
        _resolve(class_names=["a", "b"])


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"module": "no_such_pkg.mod:f"}, "cannot import --module 'no_such_pkg.mod'"),
        ({"module": "tests/_convert_fixtures.py:nope"}, "has no attribute 'nope'"),
        ({"module": "tests/_convert_fixtures.py"}, "must look like"),
        ({"module": "tests/_convert_fixtures.py:class_mean"}, "failed with --module-args|not a torch.nn.Module"),
        ({"module": TINY, "module_args": {"bogus": 1}}, "failed with --module-args"),
    ],
)
def test_module_errors(kw, message):
    with pytest.raises(EdgeferError, match=message):
        resolve_model(input_size=(24, 24), channels=1, **kw)


def test_module_needs_input_spec_and_exactly_one_source():
    with pytest.raises(EdgeferError, match="--input-size"):
        resolve_model(module=TINY)
    with pytest.raises(EdgeferError, match="exactly one"):
        resolve_model(model="x", module=TINY)


def test_weights_formats(tmp_path):
    ref = build_tiny(seed=3)
    sd = ref.state_dict()
    variants = {
        "plain.pt": sd,
        "ckpt.pt": {"state_dict": sd, "epoch": 5},
        "model_key.pt": {"model": sd},
        "dp.pt": {f"module.{k}": v for k, v in sd.items()},  # saved from DataParallel
    }
    x = torch.randn(2, 1, 24, 24)
    for name, obj in variants.items():
        torch.save(obj, tmp_path / name)
        ms = _resolve(weights=tmp_path / name)
        assert torch.allclose(ms.model(x), ref(x)), name
        assert len(ms.weights["sha256"]) == 64
    assert ms.weights["checkpoint_key"] is None
    assert _resolve(weights=tmp_path / "ckpt.pt").weights["checkpoint_key"] == "state_dict"


def test_weights_mismatch_names_keys(tmp_path):
    sd = build_tiny().state_dict()
    sd["extra.weight"] = torch.zeros(1)
    del sd["head.bias"]
    sd["head.weight"] = torch.zeros(3, 16)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(EdgeferError) as ei:
        _resolve(weights=tmp_path / "bad.pt")
    msg = str(ei.value)
    assert "missing keys: head.bias" in msg and "unexpected keys: extra.weight" in msg
    assert "head.weight [3, 16] vs model [7, 16]" in msg
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    with pytest.raises(EdgeferError, match="cannot load --weights"):
        _resolve(weights=tmp_path / "junk.pt")
    torch.save({"optimizer": {"lr": 1}}, tmp_path / "opt.pt")
    with pytest.raises(EdgeferError, match="no state dict found"):
        _resolve(weights=tmp_path / "opt.pt")
    with pytest.raises(EdgeferError, match="not found"):
        _resolve(weights=tmp_path / "missing.pt")


def test_parity_relative_tolerance():
    ref = np.array([[10.0, -5.0], [1.0, 2.0]])
    ok = parity(ref, ref + 0.005, rel_tol=1e-3)  # 0.005 <= 1e-3 * 10
    bad = parity(ref, ref + np.array([[0.0, 0.02], [0.0, 0.0]]), rel_tol=1e-3)
    assert ok["passed"] and ok["max_abs_diff"] == pytest.approx(0.005)
    assert not bad["passed"] and bad["max_rel_diff"] == pytest.approx(0.002)
    assert agreement(ref, ref[:, ::-1]) == 0.0


def test_classification_metrics_known_values():
    names = ["a", "b", "c"]
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 1, 0])
    m = classification(np.eye(3)[pred], y, names)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_recall"] == {"a": pytest.approx(2 / 3), "b": 1.0, "c": 0.0}
    # F1: a = 2*(2/3)(2/3)/(4/3) = 2/3, b = 2*(2/3)(1)/(5/3) = 0.8, c = 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)


def test_int8_gates_catch_a_dying_minority_class():
    names = ["happy", "disgust"]
    y = np.array([0] * 95 + [1] * 5)
    fp32 = classification(np.eye(2)[y], y, names)  # perfect
    pred8 = y.copy()
    pred8[95:] = 0  # int8 never predicts disgust: accuracy only drops 5 points
    int8 = classification(np.eye(2)[pred8], y, names)
    lenient = int8_gates(fp32, int8, max_accuracy_drop=10, min_class_recall_ratio=None)
    assert lenient["passed"] and lenient["accuracy_drop_pts"] == pytest.approx(5)
    strict = int8_gates(fp32, int8, max_accuracy_drop=10, min_class_recall_ratio=0.8)
    assert not strict["passed"]
    assert strict["violations"] == ["class disgust: int8/fp32 recall 0.00 < --min-class-recall-ratio 0.8"]
    assert strict["recall_ratio"] == {"happy": 1.0, "disgust": 0.0}
    assert not int8_gates(fp32, int8, max_accuracy_drop=2, min_class_recall_ratio=None)["passed"]


def test_activation_type_follows_target_profile():
    from edgefer.convert.api import _default_activation_type

    assert _default_activation_type("rpi5")[0] == "S8"  # Cortex-A76: dot-product -> S8S8 kernels
    assert _default_activation_type("rpi4")[0] == "U8"  # Cortex-A72: no dot-product
    with pytest.raises(EdgeferError, match="unknown target"):
        _default_activation_type("no_such_board")
    # no target: this machine, by the same rule (x86_64 -> U8; aarch64 only with dot-product -> S8)
    from edgefer.targets import load_target

    act, why = _default_activation_type(None)
    assert act == load_target("local").int8_activation_type() and why.startswith("host ")


def test_zoo_class_names_must_match_the_heads_width():
    with pytest.raises(EdgeferError, match="3 class names given but the model outputs 7 logits"):
        resolve_model(model="mobilenet_v1", class_names=["a", "b", "c"])


@pytest.mark.parametrize("kw, message", [
    ({"channels": 0}, "--channels must be 1 .* or 3"),
    ({"channels": 2}, "--channels must be 1 .* or 3"),
    ({"input_size": (0, 48)}, "--input-size must be two sizes"),
    ({"class_names": ["a", " "]}, "--class-names must be"),
])
def test_bad_model_options_are_refused(kw, message):
    with pytest.raises(EdgeferError, match=message):
        resolve_model(model="mobilenet_v1", **kw)


def test_convert_option_values_are_checked_before_work(tmp_path):
    from edgefer.convert import ConvertOptions
    from edgefer.convert.api import check_options

    base = dict(model="mobilenet_v1", out=tmp_path / "o")
    for kw, message in (
        ({"max_accuracy_drop": 2.0}, "need labelled --eval data"),
        ({"min_class_recall_ratio": 0.8}, "need labelled --eval data"),
        ({"min_class_recall_ratio": 1.5, "eval": "x.npz"}, "--min-class-recall-ratio must be between 0 and 1"),
        ({"max_accuracy_drop": float("nan"), "eval": "x.npz"}, "--max-accuracy-drop must be between"),
        ({"calib_samples": 0}, "--calib-samples must be between 1"),
        ({"eval_samples": -3}, "--eval-samples must be between 1"),
        ({"opset": 7}, "--opset must be between 18"),
        ({"parity_tol": -1.0}, "--parity-tol must be between"),
        ({"std": (0.0,)}, "--std values must be > 0"),
    ):
        with pytest.raises(EdgeferError, match=message):
            check_options(ConvertOptions(**base, **kw))


def test_nan_calibration_data_is_refused(tmp_path):
    from edgefer.convert import ConvertOptions, convert

    x = np.random.default_rng(0).random((8, 1, 48, 48)).astype(np.float32)  # float32 NCHW, preprocessed
    x[3, 0, 5, 5] = np.nan
    np.save(tmp_path / "calib.npy", x)
    with pytest.raises(EdgeferError, match=r"--calib .*calib.npy: 1 of 8 samples contain NaN"):
        convert(ConvertOptions(model="mobilenet_v1", input_size=(48, 48), out=tmp_path / "o", formats=("onnx",),
                               precisions=("int8",), calib=str(tmp_path / "calib.npy")))
    assert not list((tmp_path / "o").glob(".edgefer-convert-*"))


def test_stale_staging_dirs_of_dead_converts_are_removed(tmp_path):
    import subprocess
    import sys

    from edgefer.convert.api import STAGING_PREFIX, _make_staging

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{STAGING_PREFIX}{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "half.onnx").write_bytes(b"half")
    import os

    live = tmp_path / f"{STAGING_PREFIX}{os.getppid()}-xyz"  # a live process's: kept
    live.mkdir()
    mine = _make_staging(tmp_path)
    assert not stale.exists() and live.exists() and mine.exists() and mine.name.startswith(f"{STAGING_PREFIX}{os.getpid()}-")


def test_sigterm_during_convert_removes_the_staging_dir(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "o"
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "convert", "mobilenet_v1", "--to", "onnx",
                             "--precision", "fp32,int8", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(".edgefer-convert-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert list(out.glob(".edgefer-convert-*")), "the conversion never staged anything"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not list(out.glob(".edgefer-convert-*")) and not (out / "manifest.json").exists()


def test_a_signal_inside_the_exporter_is_taken_after_it(capfd):
    """torch's exporter aborts the process (C++ c10::Error, exit 134) when a KeyboardInterrupt
    lands inside it: convert holds Ctrl-C/SIGTERM back until the export returns; a second
    signal still interrupts at once."""
    import os
    import signal

    from edgefer.runner.options import deferred_interrupts, interrupt_on_sigterm

    before = signal.getsignal(signal.SIGTERM)
    interrupt_on_sigterm()
    finished, second = [], []
    try:
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupts("the exporter"):
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(100_000))  # the handler runs here, between bytecodes; the block goes on
                finished.append(True)
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupts("the exporter"):
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(100_000))
                os.kill(os.getpid(), signal.SIGINT)
                sum(range(100_000))
                second.append("not reached")
        inside = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGTERM, before)
    assert finished == [True] and second == []
    assert inside is signal.default_int_handler  # the handlers are put back
    assert "stopping once the exporter returns" in capfd.readouterr().err
