"""Host-side bench(): local runs, converted directories, targets, energy modes, remote hand-off, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from _bench_models import tiny_conv_onnx
from edgefer.bench import bench, resolve_jobs
from edgefer.errors import EdgeferError
from edgefer.report import validate_report

REPO = Path(__file__).resolve().parents[1]
FAST = {"runs": 10, "warmup": 1, "min_seconds": 0.0}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_conv_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx")


@pytest.fixture
def converted(tmp_path) -> Path:
    """A converted directory as `edgefer convert` leaves it (manifest written by hand)."""
    d = tmp_path / "conv"
    d.mkdir()
    tiny_conv_onnx(d / "model_fp32.onnx", seed=0)
    tiny_conv_onnx(d / "model_int8.onnx", seed=1)
    manifest = {
        "schema_version": "1", "kind": "edgefer.convert.manifest",
        "model": {"name": "tiny", "params_total": 71, "macs": 2560, "flops": 5120},
        "source": {"type": "module", "module": f"{REPO / 'tests' / '_bench_models.py'}:tiny_torch", "args": {}},
        "input": {"layout": "NCHW", "input_size": [8, 8], "channels": 1}, "class_names": [str(i) for i in range(7)],
        "artifacts": [
            {"file": "model_fp32.onnx", "format": "onnx", "precision": "fp32"},
            {"file": "model_int8.onnx", "format": "onnx", "precision": "int8",
             "verification": {"metrics": {"accuracy": 0.5}}},
        ],
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def _target_yaml(tmp_path: Path, energy: str = "{type: none}", connection: str = "{type: local}") -> Path:
    p = tmp_path / "fake-board.yaml"
    p.write_text(f"""name: fake-board
board: Fake Board
arch: x86_64
cpu: {{model: fake, cores: 1}}
connection: {connection}
energy: {energy}
bench: {{warmup: 1, runs: 12, min_seconds: 0}}
""")
    return p


def test_local_bench_writes_valid_report(model, tmp_path):
    out = tmp_path / "r.json"
    [r] = bench(str(model), out=str(out), label="smoke", **FAST)
    validate_report(r)
    assert json.loads(out.read_text()) == r
    assert r["target"]["name"] == "local" and r["target"]["transport"] == "local" and r["label"] == "smoke"
    assert r["statistics"]["n"] == 10
    e = r["energy"]
    if e["status"] == "unavailable":  # no readable RAPL here: null with the reason, not a made-up number
        assert e["energy_per_inference_j"] is None and "rapl" in e["reason"].lower()
    else:
        assert e["status"] == "measured" and e["energy_per_inference_j"] > 0


def test_converted_dir_one_report_per_artifact(converted, tmp_path):
    reports = bench(str(converted), out=str(tmp_path / "reports"), energy="none", **FAST)
    assert [r["artifact"]["file"] for r in reports] == ["model_fp32.onnx", "model_int8.onnx"]
    assert sorted(os.listdir(tmp_path / "reports")) == ["model_fp32.onnx.json", "model_int8.onnx.json"]
    int8 = reports[1]
    assert int8["artifact"]["precision"] == "int8" and int8["accuracy"] == {"accuracy": 0.5}
    assert int8["model"] == {"name": "tiny", "params": 71, "macs": 2560, "flops": 5120}
    assert int8["manifest"]["model"]["name"] == "tiny"
    assert [j.precision for j in resolve_jobs(str(converted), precision="int8")] == ["int8"]
    with pytest.raises(EdgeferError, match="no artifact .* matches format=tflite"):
        resolve_jobs(str(converted), fmt="tflite")


def test_torch_reference_runtime(converted):
    [r] = bench(str(converted), runtime="torch", energy="none", **FAST)
    validate_report(r)
    assert r["runtime"]["name"] == "torch" and r["artifact"]["format"] == "torch"
    assert r["model"]["name"] == "tiny_torch" and r["model"]["params"] == 1 * 4 * 9 + 4 + 4 * 7 + 7


def test_target_defaults_and_fake_hwmon_energy(model, tmp_path):
    hw = tmp_path / "hwmon0"
    hw.mkdir()
    (hw / "in1_label").write_text("VDD_IN")
    (hw / "in1_input").write_text("5000")  # mV
    (hw / "curr1_input").write_text("1000")  # mA: a constant 5 W
    target = _target_yaml(tmp_path, energy=f"{{type: hwmon, sysfs_root: {hw}, rail: VDD_IN, sample_rate_hz: 100}}")
    [r] = bench(str(model), target=str(target), energy="measure", idle_s=0.05, min_seconds=0.2)
    assert r["target"]["name"] == "fake-board" and r["settings"]["runs"] == 12 and r["settings"]["warmup"] == 1
    e = r["energy"]
    assert e["status"] == "measured" and e["rail"] == "VDD_IN" and e["mean_power_w"] == pytest.approx(5.0)
    n = r["statistics"]["n"]
    assert e["energy_per_inference_j"] == pytest.approx(5.0 * e["window_s"] / n)
    assert e["energy_per_inference_above_idle_j"] == pytest.approx(0.0, abs=1e-12)


def test_energy_estimate_is_labelled_and_needs_power(model, tmp_path):
    target = _target_yaml(tmp_path)  # energy type none, no nominal power
    [r] = bench(str(model), target=str(target), energy="estimate", nominal_power_w=4.0, **FAST)
    e = r["energy"]
    assert e["status"] == "estimated" and e["energy_per_inference_j"] == pytest.approx(4.0 * e["window_s"] / 10)
    with pytest.raises(EdgeferError, match="nominal power"):
        bench(str(model), target=str(target), energy="estimate", **FAST)
    [r] = bench(str(model), target=str(target), **FAST)
    assert r["energy"]["status"] == "unavailable" and "no energy sensor" in r["energy"]["reason"]
    with pytest.raises(EdgeferError, match="has no energy meter"):
        bench(str(model), target=str(target), energy="measure", **FAST)


def test_remote_target_goes_through_deploy(model, tmp_path, monkeypatch):
    calls = {}

    def bench_remote(artifact, target, runner_args, on_progress):
        from edgefer.runner.__main__ import _parser
        from edgefer.runner.session import run_bench

        calls["args"] = runner_args
        on_progress({"event": "progress", "done": 3, "total": 12, "phase": "timed"})
        a = _parser().parse_args(["bench", artifact, "--out", "x", *runner_args])
        return run_bench(artifact, runs=a.runs, warmup=a.warmup, energy=a.energy, target=json.loads(a.target_json))

    monkeypatch.setitem(sys.modules, "edgefer.deploy", types.SimpleNamespace(bench_remote=bench_remote))
    target = _target_yaml(tmp_path, connection="{type: ssh, host: board.local, user: pi}")
    seen = []
    [r] = bench(str(model), target=str(target), on_progress=lambda job: lambda *a: seen.append(a))
    assert seen == [("timed", 3, 12)]
    assert calls["args"][:4] == ["--runs", "12", "--warmup", "1"] and "--target-json" in calls["args"]
    assert r["target"]["transport"] == "ssh" and r["statistics"]["n"] == 12


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edgefer", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_cli_bench_json(model):
    p = _cli("bench", model, "--runs", 5, "--warmup", 0, "--min-seconds", 0, "--energy", "none", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["statistics"]["n"] == 5


def test_cli_bench_user_errors(model, tmp_path, capsys):
    from edgefer.cli.main import run  # in-process: same one-line handling as the console script
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(model.read_bytes()[:150])
    (tmp_path / "invalid.yaml").write_text("name: [unclosed\n")
    for args, needle in (
        (("bench", bad), "broken.onnx"),
        (("bench", model, "--target", "no-such-board"), "unknown target 'no-such-board'"),
        (("bench", model, "--target", tmp_path / "invalid.yaml"), "invalid.yaml"),
        (("bench", tmp_path / "missing.onnx"), "artifact not found"),
        (("bench", model, "--runtime", "tensorrt"), "unknown runtime 'tensorrt'"),
        (("bench", model, "--input-shape", "1,1,9,9", "--runs", 1), "wrong input shape"),
        (("bench", model, "--energy", "joules"), "invalid --energy 'joules'"),
    ):
        assert run([str(a) for a in args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1, err


@pytest.mark.skipif(os.access("/sys/class/powercap/intel-rapl:0/energy_uj", os.R_OK), reason="RAPL readable here")
def test_cli_energy_measure_without_meter_names_the_path(model):
    p = _cli("bench", model, "--energy", "measure", "--runs", 1)
    assert p.returncode == 2 and "meter path missing: /sys/class/powercap/intel-rapl:0" in p.stderr


def test_interrupt_writes_partial_report_and_stops(converted, tmp_path, monkeypatch):
    import edgefer.runner.session as session

    def interrupted(fn, runs, warmup, min_seconds, on_progress, result, before_timed):
        before_timed()
        result.window_start_ns = 1
        result.samples_ns += [1000, 2000, 3000]
        result.window_end_ns = 7000
        raise KeyboardInterrupt

    monkeypatch.setattr(session, "run_load", interrupted)
    reports = bench(str(converted), out=str(tmp_path / "out"), energy="none", **FAST)
    assert len(reports) == 1 and reports[0]["partial"] is True  # the int8 artifact was not started
    saved = json.loads((tmp_path / "out" / "model_fp32.onnx.json").read_text())
    assert saved["partial_reason"].startswith("interrupted") and saved["timing"]["samples_ns"] == [1000, 2000, 3000]
    assert saved["statistics"]["n"] == 3
