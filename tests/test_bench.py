"""Host-side bench(): local runs, converted directories, targets, energy modes, remote hand-off, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _bench_models import tiny_conv_onnx

from edgefer.bench.api import bench
from edgefer.bench.jobs import resolve_jobs
from edgefer.errors import EdgeferError
from edgefer.report.bench import validate_report
from edgefer.runner.settings import BenchSettings

REPO = Path(__file__).resolve().parents[1]
FAST = BenchSettings(runs=10, warmup=1, min_seconds=0.0)
QUIET = FAST.with_(energy="none")


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
    [r] = bench(str(model), FAST, out=str(out), label="smoke", repeat=2)
    validate_report(r)
    assert json.loads(out.read_text()) == r
    assert r["target"]["name"] == "local" and r["target"]["transport"] == "local" and r["label"] == "smoke"
    assert r["statistics"]["n"] == 20 and [len(x["samples_ns"]) for x in r["repeats"]] == [10, 10]
    assert len({x["pid"] for x in r["repeats"]}) == 2  # each repeat its own process
    assert r["statistics"]["between_repeats"]["repeats"] == 2 and r["exclusive"]["held"] is True
    e = r["energy"]
    if e["status"] == "unavailable":  # no readable RAPL here: null with the reason, not a made-up number
        assert e["energy_per_inference_j"] is None and "rapl" in e["reason"].lower()
    else:
        assert e["status"] == "measured" and e["energy_per_inference_j"] > 0


def test_converted_dir_one_report_per_artifact(converted, tmp_path):
    reports = bench(str(converted), QUIET, out=str(tmp_path / "reports"), repeat=2)
    assert [r["artifact"]["file"] for r in reports] == ["model_fp32.onnx", "model_int8.onnx"]
    assert sorted(os.listdir(tmp_path / "reports")) == ["model_fp32.onnx.json", "model_int8.onnx.json"]
    # repeats interleaved: fp32 #1, int8 #1, fp32 #2, int8 #2 (slow drift hits both alike)
    starts = [(x["started_unix_ns"], r["artifact"]["file"]) for r in reports for x in r["repeats"]]
    assert [f for _, f in sorted(starts)] == ["model_fp32.onnx", "model_int8.onnx"] * 2
    int8 = reports[1]
    assert int8["artifact"]["precision"] == "int8" and int8["accuracy"] == {"accuracy": 0.5}
    assert int8["model"] == {"name": "tiny", "params": 71, "macs": 2560, "flops": 5120}
    assert int8["manifest"]["model"]["name"] == "tiny"
    assert [j.precision for j in resolve_jobs(str(converted), precision="int8")] == ["int8"]
    with pytest.raises(EdgeferError, match="no artifact .* matches format=tflite"):
        resolve_jobs(str(converted), fmt="tflite")


def test_torch_reference_runtime(converted):
    [r] = bench(str(converted), QUIET, runtime="torch", repeat=2)
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
    [r] = bench(str(model), BenchSettings(energy="measure", idle_s=0.05, min_seconds=0.2), target=str(target), repeat=1)
    assert r["target"]["name"] == "fake-board" and r["settings"]["runs"] == 12 and r["settings"]["warmup"] == 1
    e = r["energy"]
    assert e["status"] == "measured" and e["rail"] == "VDD_IN" and e["mean_power_w"] == pytest.approx(5.0)
    n = r["statistics"]["n"]
    assert e["energy_per_inference_j"] == pytest.approx(5.0 * e["window_s"] / n)
    assert e["energy_per_inference_above_idle_j"] == pytest.approx(0.0, abs=1e-12)


def test_energy_estimate_is_labelled_and_needs_power(model, tmp_path):
    target = _target_yaml(tmp_path)  # energy type none, no nominal power
    [r] = bench(str(model), FAST.with_(energy="estimate", nominal_power_w=4.0), target=str(target), repeat=1)
    e = r["energy"]
    assert e["status"] == "estimated" and e["energy_per_inference_j"] == pytest.approx(4.0 * e["window_s"] / 10)
    [r] = bench(str(model), FAST.with_(energy="estimate", nominal_power_w=4.0), target=str(target), repeat=2)
    per_repeat = [x["energy"]["energy_per_inference_j"] for x in r["repeats"]]
    assert r["energy"]["status"] == "estimated" and r["energy"]["energy_per_inference_j"] == pytest.approx(
        sum(per_repeat) / 2)
    for bad in (-5, 0, float("nan")):
        with pytest.raises(EdgeferError, match="--nominal-power-w"):
            bench(str(model), FAST.with_(energy="estimate", nominal_power_w=bad), target=str(target), repeat=2)
    with pytest.raises(EdgeferError, match="nominal power"):
        bench(str(model), FAST.with_(energy="estimate"), target=str(target), repeat=2)
    [r] = bench(str(model), FAST, target=str(target), repeat=2)
    assert r["energy"]["status"] == "unavailable" and "no energy sensor" in r["energy"]["reason"]
    with pytest.raises(EdgeferError, match="has no energy meter"):
        bench(str(model), FAST.with_(energy="measure"), target=str(target), repeat=2)


def test_local_memory_is_the_models_not_the_hosts(model):
    # the host process holds ~1 GB: a runner child process must not report it as the model's memory
    import numpy as np

    ballast = np.ones(1 << 27)  # 1 GiB of float64, touched
    [fresh] = bench(str(model), QUIET, repeat=2)
    assert ballast.sum() == 1 << 27
    cli = _cli("bench", model, "--runs", 10, "--warmup", 1, "--min-seconds", 0, "--repeat", 2, "--energy", "none", "--json")
    assert cli.returncode == 0, cli.stderr
    from_shell = json.loads(cli.stdout)
    for r in (fresh, from_shell):
        res = r["resources"]
        assert res["peak_rss_mb"] < 400 and res["model_rss_mb"] is not None and res["rss_before_load_mb"] > 0
        assert res["peak_rss_mb"] >= res["rss_before_load_mb"] and res["threads"] >= 1
    assert fresh["resources"]["peak_rss_mb"] == pytest.approx(from_shell["resources"]["peak_rss_mb"], rel=0.15)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edgefer", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_cli_bench_json(model):
    p = _cli("bench", model, "--runs", 5, "--warmup", 0, "--min-seconds", 0, "--energy", "none", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["settings"]["repeat"] == 5 and r["statistics"]["n"] == 25  # the local profile's default repeats


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
        (("bench", model, "--runtime", "tensorrt"), "invalid --runtime 'tensorrt'"),
        (("bench", model, "--threads", 10000), "--threads must be between 1 and 256"),
        (("bench", model, "--threads", 0), "--threads must be between 1 and 256"),
        (("bench", model, "--runs", 0), "--runs must be between 1"),
        (("bench", model, "--warmup", -1), "--warmup must be between 0"),
        (("bench", model, "--min-seconds", "nan"), "--min-seconds must be a finite number"),
        (("bench", model, "--batch-size", 0), "--batch-size must be between 1"),
        (("bench", model, "--repeat", 0), "--repeat must be an integer between 1 and 1000"),
        (("bench", model, "--lock-timeout", -1), "--lock-timeout must be between 0"),
        (("bench", model, "--cooldown", -3), "--cooldown must be between 0"),
        (("bench", model, "--cpus", "a-b"), "invalid --cpus 'a-b'"),
        (("bench", model, "--input-shape", "1,0,8,8"), "--input-shape dimensions must be integers >= 1"),
        (("bench", model, "--precision", "int4"), "invalid --precision 'int4'"),
        (("bench", model, "--format", "pt"), "invalid --format 'pt'"),
        (("bench", model, "--runs", "abc"), "Invalid value for '--runs'"),
        (("bench", model, "--no-such-option"), "No such option: --no-such-option"),
        (("bench",), "Missing argument"),
        (("no-such-command",), "No such command"),
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


def test_sigterm_writes_partial_report_and_stops(converted, tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "bench", str(converted), "--out", str(out), "--runs",
                             "100000000", "--warmup", "1", "--repeat", "2", "--energy", "none"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # the first repeat of the fp32 artifact is timing by now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert os.listdir(out) == ["model_fp32.onnx.json"]  # the int8 artifact was not started
    saved = json.loads((out / "model_fp32.onnx.json").read_text())
    assert saved["partial"] and "interrupted" in saved["partial_reason"] and "stopped on the host" in saved["partial_reason"]
    assert saved["statistics"]["n"] == len(saved["timing"]["samples_ns"]) > 100 and len(saved["repeats"]) == 1


def test_out_problems_are_found_before_measuring(converted, model, tmp_path, capsys):
    from edgefer.cli.main import run

    f = tmp_path / "a-file"
    f.write_text("x")
    assert run(["bench", str(converted), "--out", str(f), "--energy", "none", "--runs", "1"]) == 2
    assert "is a file, but 2 reports need a directory" in capsys.readouterr().err
    assert run(["bench", str(model), "--out", str(f / "r.json"), "--energy", "none", "--runs", "1"]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_report_that_cannot_be_written_goes_to_a_fallback_file(tmp_path):
    from edgefer.bench.outputs import save_report

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory is needed")
    with pytest.raises(EdgeferError, match="the measured report was saved to") as exc:
        save_report(str(blocker / "sub" / "r.json"), {"kind": "edgefer.bench.report", "x": 1})
    saved = exc.value.one_line().split("saved to ")[1].split(" ")[0]
    assert json.loads(Path(saved).read_text()) == {"kind": "edgefer.bench.report", "x": 1}
    os.unlink(saved)


def test_directory_artifact_changed_after_conversion_is_refused(converted):
    import hashlib

    m = json.loads((converted / "manifest.json").read_text())
    for a in m["artifacts"]:
        a["sha256"] = hashlib.sha256((converted / a["file"]).read_bytes()).hexdigest()
    (converted / "manifest.json").write_text(json.dumps(m))
    assert len(resolve_jobs(str(converted))) == 2
    tiny_conv_onnx(converted / "model_int8.onnx", seed=5)  # swapped behind the manifest's back
    with pytest.raises(EdgeferError, match="does not match its manifest entry"):
        resolve_jobs(str(converted))


def test_a_busy_board_makes_a_second_bench_wait_then_fail(model, hold_board):
    holder = hold_board("a study")
    waits = []
    with pytest.raises(EdgeferError, match=r"the board is busy: held by a study by .* pid \d+") as exc:
        bench(str(model), QUIET, lock_timeout_s=0.5, on_wait=waits.append, repeat=2)
    assert "\n" not in exc.value.one_line() and waits and "a study" in waits[0]
    holder.release()
    [r] = bench(str(model), QUIET, lock_timeout_s=0.5, repeat=2)
    assert r["exclusive"]["held"] and r["exclusive"]["lock"].endswith("edgefer-bench.lock")
