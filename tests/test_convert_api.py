"""`edgefer convert` end to end on tiny models: artifacts, manifest, verification gates, bad input."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from _convert_fixtures import write_fer_csv

from edgefer.cli.main import run
from edgefer.convert import ConvertOptions, convert
from edgefer.errors import EdgeferError

ORACLE = ["--module", "tests/_convert_fixtures.py:build_oracle", "--input-size", "24", "24", "--channels", "1"]


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich would truncate file names at 80 columns


@pytest.fixture(scope="module")
def fer_csv(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "fer.csv"
    write_fer_csv(p, {"Training": 210, "PublicTest": 140})
    return p


def _sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _no_leftovers(out):
    assert not [p for p in out.iterdir() if p.name.startswith(".")], list(out.iterdir())


def test_onnx_fp32_int8_with_data_and_gates(tmp_path, fer_csv, capsys):
    out = tmp_path / "out"
    rc = run(["convert", *ORACLE, "--to", "onnx", "--calib", str(fer_csv), "--calib-samples", "70",
              "--eval", str(fer_csv), "-o", str(out), "--max-accuracy-drop", "5", "--min-class-recall-ratio", "0.8"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "per-class recall" in printed and "build_oracle_int8.onnx" in printed
    m = json.loads((out / "manifest.json").read_text())
    assert m["source"]["module"].endswith("build_oracle") and m["weights"] is None
    assert m["input"]["input_size"] == [24, 24] and m["input"]["preprocessing"]["color"] == "grayscale"
    assert m["class_names"][1] == "disgust" and m["model"]["params_total"] == 15
    assert m["model"]["macs"] > 0 and m["model"]["flops"] == 2 * m["model"]["macs"]
    assert m["calibration"]["source"].endswith("fer.csv:Training") and m["calibration"]["samples"] == 70
    assert m["calibration"]["class_counts"]["disgust"] >= 1  # stratified: the rare class is calibrated on
    assert m["verification"]["inputs"]["source"].endswith("fer.csv:PublicTest")
    assert m["warnings"] == [] and m["failed"] == []
    assert m["verification"]["pytorch_fp32"]["accuracy"] > 0.95  # the oracle really classifies
    arts = {a["precision"]: a for a in m["artifacts"]}
    assert set(arts) == {"fp32", "int8"}
    for a in arts.values():
        f = out / a["file"]
        assert a["size_bytes"] == f.stat().st_size and a["sha256"] == _sha(f)
        assert a["verification"]["passed"] and a["verification"]["runtime"].startswith("onnxruntime")
    fp32, int8 = arts["fp32"]["verification"], arts["int8"]["verification"]
    assert fp32["parity"]["passed"] and fp32["parity"]["max_rel_diff"] < 1e-3
    assert int8["top1_agreement"] > 0.9 and int8["gates"]["accuracy_drop_pts"] <= 5
    assert arts["int8"]["activation_type"] == "U8" and arts["int8"]["quant_format"] == "QDQ"
    assert np.array(int8["metrics"]["confusion_matrix"]).sum() == 140
    _no_leftovers(out)


def test_random_calibration_is_flagged_and_gate_fails(tmp_path, fer_csv, capsys):
    """Calibrated on random pixels, the int8 oracle loses classes: the recall gate must stop it."""
    out = tmp_path / "out"
    rc = run(["convert", *ORACLE, "--to", "onnx", "--precision", "int8", "--eval", str(fer_csv),
              "-o", str(out), "--min-class-recall-ratio", "0.8"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "error: verification failed" in captured.err and "--min-class-recall-ratio" in captured.err
    assert "RANDOM data" in captured.out
    m = json.loads((out / "manifest.json").read_text())  # evidence stays on disk
    assert m["calibration"]["source"] == "random"
    assert any("RANDOM" in w for w in m["warnings"])
    (a,) = m["artifacts"]  # int8 only: the intermediate fp32 file is not published
    assert a["precision"] == "int8" and not a["verification"]["passed"]
    assert a["verification"]["gates"]["violations"]
    assert sorted(p.name for p in out.iterdir()) == ["build_oracle_int8.onnx", "manifest.json"]


def test_unsupported_op_names_op_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # from an earlier run: must not survive a failed one
    rc = run(["convert", "--module", "tests/_convert_unsupported.py:build", "--input-size", "24", "24",
              "--channels", "1", "--to", "onnx", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "onnx fp32: ONNX export cannot handle operator edgefer_test.twist" in err
    assert [ln for ln in err.splitlines() if ln.startswith("error:")] == [err.splitlines()[-1]]
    m = json.loads((out / "manifest.json").read_text())
    assert m["artifacts"] == [] and "edgefer_test.twist" in m["failed"][0]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["convert", "no_such_model"], "unknown model 'no_such_model'"),
        (["convert", *ORACLE, "--to", "onnx,coreml"], "--to accepts onnx,tflite"),
        (["convert", *ORACLE, "--module-args", "[1]"], "--module-args must be a JSON object"),
        (["convert", *ORACLE, "--calib", "missing.csv"], "data not found: missing.csv"),
        (["convert", *ORACLE, "--activation-type", "S16"], "--activation-type must be U8 or S8"),
        (["convert", *ORACLE, "--calibration", "magic"], "--calibration must be one of minmax"),
    ],
)
def test_bad_input_one_line(tmp_path, capsys, args, message):
    rc = run([*args, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_output_dir_not_writable(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = run(["convert", *ORACLE, "--to", "onnx", "--precision", "fp32", "-o", str(blocker / "out")])
    assert rc == 2 and "is not writable" in capsys.readouterr().err


def test_library_tflite_conversion_if_available(tmp_path):
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_litert")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "calib.npy", rng.integers(0, 256, (40, 48, 48), dtype=np.uint8))
    res = convert(ConvertOptions(module="tests/_convert_fixtures.py:build_tiny", input_size=(24, 24), channels=1,
                                 formats=("tflite",), calib=str(tmp_path / "calib.npy"), out=tmp_path / "o"))
    arts = {a["precision"]: a for a in res.manifest["artifacts"]}
    assert arts["fp32"]["verification"]["parity"]["passed"]
    assert arts["int8"]["verification"]["top1_agreement"] >= 0.8
    assert arts["int8"]["size_bytes"] < arts["fp32"]["size_bytes"]
    assert res.manifest["calibration"]["samples"] == 40 and "class_counts" not in res.manifest["calibration"]


def test_zoo_model_dynamic_batch(tmp_path):
    """One real zoo model: dynamic batch survives export and int8 weights are ~4x smaller."""
    import onnx

    rng = np.random.default_rng(1)
    np.savez(tmp_path / "calib.npz", x=rng.integers(0, 256, (16, 48, 48), dtype=np.uint8))
    res = convert(ConvertOptions(model="mobilenet_v1", formats=("onnx",), calib=str(tmp_path / "calib.npz"),
                                 dynamic_batch=True, out=tmp_path / "o"))
    m = res.manifest
    assert m["source"] == {"type": "zoo", "name": "mobilenet_v1", "paper": m["source"]["paper"]}
    assert m["input"]["input_size"] == [48, 48] and m["model"]["params_total"] > 3_000_000
    arts = {a["precision"]: a for a in m["artifacts"]}
    dim = onnx.load(str(tmp_path / "o" / arts["fp32"]["file"])).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch" and arts["fp32"]["dynamic_batch"]
    assert arts["fp32"]["verification"]["parity"]["passed"]
    assert arts["int8"]["size_bytes"] / arts["fp32"]["size_bytes"] <= 0.3


def test_one_format_failing_does_not_stop_the_others(tmp_path, monkeypatch):
    tfl = pytest.importorskip("edgefer.convert.tflite")

    def refuse(*_a, **_k):
        raise tfl.UnsupportedOp("aten.weird_op", "tflite", "litert-torch")

    monkeypatch.setattr(tfl, "export_tflite_fp32", refuse)
    res = convert(ConvertOptions(module="tests/_convert_fixtures.py:build_tiny", input_size=(24, 24), channels=1,
                                 formats=("onnx", "tflite"), out=tmp_path / "o"), check=False)
    assert [a["file"] for a in res.manifest["artifacts"]] == ["build_tiny_fp32.onnx", "build_tiny_int8.onnx"]
    assert all(a["verification"]["passed"] for a in res.manifest["artifacts"])
    assert len(res.errors) == 1 and res.errors[0].startswith("tflite fp32:") and "aten.weird_op" in res.errors[0]
    with pytest.raises(EdgeferError, match="tflite fp32: .*aten.weird_op"):
        res.check()
    assert not list((tmp_path / "o").glob("*.tflite"))


def test_no_verify_says_so(tmp_path):
    res = convert(ConvertOptions(module="tests/_convert_fixtures.py:build_tiny", input_size=(24, 24), channels=1,
                                 formats=("onnx",), precisions=("fp32",), verify=False, out=tmp_path / "o"))
    m = res.manifest
    assert m["verification"] is None and "verification" not in m["artifacts"][0]
    assert m["warnings"] == ["verification skipped (--no-verify): the artifacts are unverified"]
