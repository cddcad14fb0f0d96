"""Device-side runner: runtimes, load generator, statistics, fingerprint, runner CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _bench_models import reference_logits, tiny_conv_onnx

from edgefer.errors import EdgeferError
from edgefer.runner import envinfo
from edgefer.runner.loadgen import LoadResult, run_load
from edgefer.runner.options import parse_cpus
from edgefer.runner.runtimes import open_runtime, runtime_for
from edgefer.runner.runtimes.base import Runtime, TensorInfo, dequantize, quantize
from edgefer.runner.session import run_bench
from edgefer.runner.settings import BenchSettings
from edgefer.runner.stats import summarize

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    return tiny_conv_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx")


# -- runtimes ------------------------------------------------------------------------------


def test_onnxruntime_describe_predict_and_inputs(onnx_model):
    rt = open_runtime(onnx_model, threads=1)
    d = rt.describe()
    assert d["name"] == "onnxruntime" and d["threads"] == 1 and d["providers"] == ["CPUExecutionProvider"]
    assert d["inputs"] == [{"name": "x", "shape": [None, 1, 8, 8], "dtype": "float32", "layout": "NCHW",
                            "quantization": None}]
    x = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(rt.predict(x), reference_logits(x), rtol=1e-4, atol=1e-5)
    feeds = rt.make_inputs(batch_size=4, seed=3)
    assert [f.shape for f in feeds] == [(4, 1, 8, 8)] and feeds[0].dtype == np.float32
    assert rt.run(feeds)[0].shape == (4, 7)


@pytest.mark.parametrize("content, what", [(b"", "empty"), (b"\x08\x07garbage" * 10, "corrupt")])
def test_corrupt_or_empty_model_is_one_line_error(tmp_path, content, what):
    p = tmp_path / "bad.onnx"
    p.write_bytes(content)
    with pytest.raises(EdgeferError) as exc:
        open_runtime(p)
    assert "bad.onnx" in str(exc.value) and "\n" not in exc.value.one_line()


def test_truncated_model_is_error(tmp_path, onnx_model):
    p = tmp_path / "trunc.onnx"
    p.write_bytes(onnx_model.read_bytes()[:200])
    with pytest.raises(EdgeferError, match="trunc.onnx"):
        open_runtime(p)


def test_missing_file_unknown_runtime_and_extension(tmp_path, onnx_model):
    with pytest.raises(EdgeferError, match="not found"):
        open_runtime(tmp_path / "nope.onnx")
    with pytest.raises(EdgeferError, match="unknown runtime 'tensorrt'"):
        open_runtime(onnx_model, runtime="tensorrt")
    with pytest.raises(EdgeferError, match=".onnx or .tflite"):
        runtime_for("model.pt")
    with pytest.raises(EdgeferError, match="cannot run a .onnx"):
        runtime_for("m.onnx", "litert")


def test_wrong_input_shape_and_dynamic_dims(tmp_path, onnx_model):
    rt = open_runtime(onnx_model)
    with pytest.raises(EdgeferError, match=r"wrong input shape \[2, 3, 8, 8\]"):
        rt.predict(np.zeros((2, 3, 8, 8), np.float32))
    dyn = open_runtime(tiny_conv_onnx(tmp_path / "dyn.onnx", dyn_hw=True))
    with pytest.raises(EdgeferError, match="--input-shape"):
        dyn.make_inputs(1)
    dyn2 = open_runtime(tmp_path / "dyn.onnx", input_shape=[1, 1, 12, 10])
    assert dyn2.make_inputs(2)[0].shape == (2, 1, 12, 10)
    with pytest.raises(EdgeferError, match="wrong input shape"):
        open_runtime(onnx_model, input_shape=[1, 1, 9, 9]).make_inputs(1)


class _FakeInt8Nhwc(Runtime):
    """int8 NHWC model in metadata only: checks predict()'s layout and quantization handling."""

    name = "fake"

    def load(self, path, threads=None, options=None):
        self.inputs = [TensorInfo("in", [1, 4, 4, 1], "int8", "NHWC", {"scale": 0.5, "zero_point": -3})]
        self.outputs = [TensorInfo("out", [1, 4, 4, 1], "int8", None, {"scale": 0.25, "zero_point": 2})]
        self.seen = []

    def run(self, feeds):
        self.seen.append(feeds[0])
        return [feeds[0]]  # identity, in the quantized domain

    def version(self):
        return "0"


def test_predict_quantizes_transposes_and_splits_fixed_batch():
    rt = _FakeInt8Nhwc()
    rt.load("x")
    x = np.arange(32, dtype=np.float32).reshape(2, 1, 4, 4) / 4.0  # NCHW, batch 2 > fixed batch 1
    y = rt.predict(x)
    assert len(rt.seen) == 2 and rt.seen[0].shape == (1, 4, 4, 1) and rt.seen[0].dtype == np.int8
    # q = round(x / 0.5) - 3 ; out = (q - 2) * 0.25
    q = np.clip(np.rint(x.transpose(0, 2, 3, 1) / 0.5) - 3, -128, 127)
    np.testing.assert_allclose(y, (q - 2) * 0.25)
    info = TensorInfo("t", [1], "uint8", None, {"scale": 0.1, "zero_point": 128})
    assert quantize(np.array([0.0, 100.0, -100.0]), info).tolist() == [128, 255, 0]
    assert dequantize(np.array([138], np.uint8), info).tolist() == pytest.approx([1.0])


# -- load generator and statistics -----------------------------------------------------------


def test_loadgen_meets_runs_and_min_seconds():
    calls = []
    res = run_load(lambda: calls.append(1), runs=5, warmup=3, min_seconds=0.0)
    assert len(calls) == 1 + 3 + 5 and len(res.samples_ns) == 5 and res.first_inference_ns > 0
    res = run_load(lambda: time.sleep(0.001), runs=2, warmup=0, min_seconds=0.05)
    assert len(res.samples_ns) > 2 and (res.window_end_ns - res.window_start_ns) >= 0.05e9
    assert sum(res.samples_ns) <= res.window_end_ns - res.window_start_ns


def test_loadgen_keeps_samples_when_interrupted():
    n = {"calls": 0}

    def fn():
        n["calls"] += 1
        if n["calls"] == 1 + 2 + 7:  # first + warmup + 6 timed ok, the 7th is interrupted
            raise KeyboardInterrupt

    res = LoadResult()
    with pytest.raises(KeyboardInterrupt):
        run_load(fn, runs=100, warmup=2, result=res)
    assert len(res.samples_ns) == 6


def test_stats_against_hand_values():
    s = summarize([1_000_000, 2_000_000, 3_000_000, 4_000_000], batch_size=2)
    assert s["n"] == 4 and s["mean_ms"] == 2.5 and s["min_ms"] == 1.0 and s["max_ms"] == 4.0
    assert s["p50_ms"] == 2.5 and s["p90_ms"] == pytest.approx(3.7) and s["p99_ms"] == pytest.approx(3.97)
    assert s["std_ms"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert s["per_sample_p50_ms"] == 1.25 and s["throughput_sps"] == pytest.approx(8 / 0.010)
    assert summarize([]) is None


def test_parse_cpus():
    assert parse_cpus("0,2-4") == [0, 2, 3, 4] and parse_cpus(None) is None
    with pytest.raises(EdgeferError, match="--cpus"):
        parse_cpus("a-b")


# -- environment fingerprint -----------------------------------------------------------------


def test_envinfo_reads_fake_tree(tmp_path, monkeypatch):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nFeatures\t: fp asimd asimddp\n"
                                          "CPU implementer\t: 0x41\nmodel name\t: QEMU Virtual CPU\n")
    for i, (kind, t) in enumerate((("cpu-thermal", "51234"), ("gpu-thermal", "47000"))):
        z = tmp_path / f"sys/class/thermal/thermal_zone{i}"
        z.mkdir(parents=True)
        (z / "type").write_text(kind)
        (z / "temp").write_text(t)
    g = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    g.mkdir(parents=True)
    (g / "scaling_governor").write_text("performance\n")
    assert envinfo.cpu_info(str(tmp_path)) == ("QEMU Virtual CPU", ["fp", "asimd", "asimddp"])
    assert envinfo.temperatures(str(tmp_path)) == {"cpu-thermal": 51.234, "gpu-thermal": 47.0}
    assert envinfo.governor(str(tmp_path)) == "performance"
    monkeypatch.delenv(envinfo.EMULATED_ENV, raising=False)
    assert envinfo.emulation(str(tmp_path)) == (True, "qemu (detected in /proc/cpuinfo)")
    monkeypatch.setenv(envinfo.EMULATED_ENV, "qemu-aarch64 (cortex-a72)")
    assert envinfo.emulation("/nonexistent") == (True, "qemu-aarch64 (cortex-a72)")


def test_envinfo_arm_core_names_and_board(tmp_path):
    cores = "".join(f"processor\t: {i}\nFeatures\t: fp asimd\nCPU part\t: {part}\n\n"
                    for i, part in enumerate(["0xd05"] * 4 + ["0xd0b"] * 2))
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/cpuinfo").write_text(cores)
    (tmp_path / "proc/device-tree/model").write_text("Raspberry Pi 5 Model B Rev 1.0\x00")
    assert envinfo.cpu_info(str(tmp_path))[0] == "4x Cortex-A55 + 2x Cortex-A76"
    assert envinfo.board_model(str(tmp_path)) == "Raspberry Pi 5 Model B Rev 1.0"


def test_parse_throttled_bits():
    t = envinfo.parse_throttled("throttled=0x50005\n")
    assert t["under_voltage"] and t["throttled"] and not t["arm_freq_capped"]
    assert t["under_voltage_occurred"] and t["throttled_occurred"] and not t["soft_temp_limit_occurred"]
    assert envinfo.parse_throttled("garbage") is None


# -- in-process run and partial reports ------------------------------------------------------


def test_run_bench_report_fields(onnx_model, monkeypatch):
    monkeypatch.setenv(envinfo.EMULATED_ENV, "qemu-aarch64 (cortex-a72)")
    r = run_bench(str(onnx_model), BenchSettings(runs=20, warmup=2, batch_size=2, threads=1, energy="none"))
    assert r["partial"] is False and len(r["timing"]["samples_ns"]) == 20
    assert r["statistics"]["n"] == 20 and r["settings"]["batch_size"] == 2
    assert r["runtime"]["inputs"][0]["shape"] == [None, 1, 8, 8]
    assert r["artifact"]["sha256"] and r["artifact"]["format"] == "onnx" and r["artifact"]["precision"] is None
    assert r["environment"]["emulated"] is True and r["environment"]["emulator"].startswith("qemu-aarch64")
    assert r["energy"]["status"] == "unavailable" and "disabled" in r["energy"]["reason"]


class _CrashAfter(Runtime):
    name = "fake"

    def __init__(self, n, exc):
        super().__init__()
        self.n, self.exc, self.calls = n, exc, 0

    def load(self, path, threads=None, options=None):
        self.inputs = [TensorInfo("x", [1, 2], "float32")]
        self.outputs = [TensorInfo("y", [1, 2], "float32")]

    def run(self, feeds):
        self.calls += 1
        if self.calls > self.n:
            raise self.exc
        return feeds

    def version(self):
        return "0"


@pytest.mark.parametrize("exc, reason", [(KeyboardInterrupt(), "interrupted"), (RuntimeError("boom"), "crashed")])
def test_interrupt_or_crash_keeps_samples_as_partial(onnx_model, exc, reason):
    def opener():
        rt = _CrashAfter(1 + 1 + 5, exc)  # first + warmup + 5 timed
        rt.load("x")
        return rt

    r = run_bench(str(onnx_model), BenchSettings(runs=1000, warmup=1, energy="none"), opener=opener)
    assert r["partial"] is True and r["partial_reason"].startswith(reason)
    assert len(r["timing"]["samples_ns"]) == 5 and r["statistics"]["n"] == 5


# -- device-side CLI (subprocess: exactly what deploy runs) ----------------------------------


def _runner(*args, **kw):
    return subprocess.run([sys.executable, "-m", "edgefer.runner", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=60, **kw)


def test_runner_cli_bench_probe_infer(onnx_model, tmp_path):
    out = tmp_path / "r.json"
    p = _runner("bench", onnx_model, "--out", out, "--runs", 30, "--warmup", 2, "--energy", "none",
                "--progress", "jsonl", "--target-json", '{"name": "x", "board": null, "arch": "x86_64", "transport": "local"}')
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stderr.splitlines()]
    assert events[-1] == {"event": "progress", "done": 30, "total": 30, "phase": "timed"}
    assert {e["phase"] for e in events} == {"warmup", "timed"}
    report = json.loads(out.read_text())
    assert report["statistics"]["n"] == 30 and report["target"]["name"] == "x"
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]  # atomic write left no temp file
    probe = json.loads(_runner("probe").stdout)
    assert probe["runtimes"]["onnxruntime"] and probe["machine"] and probe["emulated"] is False
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert _runner("infer", onnx_model, "--inputs", tmp_path / "x.npy", "--out", tmp_path / "y.npy").returncode == 0
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), reference_logits(x), rtol=1e-4, atol=1e-5)


def test_runner_cli_user_errors_are_one_line(tmp_path, onnx_model):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    for args in (("bench", bad, "--out", tmp_path / "r.json"),
                 ("bench", onnx_model, "--out", tmp_path / "r.json", "--energy", '{"type": "rapl", "sysfs_root": "/nope"}'),
                 ("bench", onnx_model, "--out", tmp_path / "r.json", "--runtime", "tensorrt")):
        p = _runner(*args)
        assert p.returncode == 2 and p.stderr.startswith("error: ") and p.stderr.count("\n") == 1, p.stderr
        assert "Traceback" not in p.stderr
    assert "meter path missing: /nope" in _runner(*("bench", onnx_model, "--out", tmp_path / "r.json", "--energy",
                                                    '{"type": "rapl", "sysfs_root": "/nope"}')).stderr


def test_runner_sigterm_writes_partial_report(tmp_path, onnx_model):
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "edgefer.runner", "bench", str(onnx_model), "--out", str(out),
                             "--runs", "100000000", "--warmup", "0", "--energy", "none", "--progress", "jsonl"],
                            cwd=REPO, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait until timed samples are being taken
        if '"timed"' in line:
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.stderr.read()
    assert proc.wait(timeout=30) == 1
    report = json.loads(out.read_text())
    assert report["partial"] is True and "interrupted" in report["partial_reason"]
    assert report["statistics"]["n"] == len(report["timing"]["samples_ns"]) > 10


def test_device_side_imports_without_torch_pydantic_typer_rich(onnx_model, tmp_path):
    code = f"""
import sys
for name in ("torch", "pydantic", "typer", "rich", "onnx", "yaml"):
    sys.modules[name] = None  # any import of these now fails
import edgefer.runner, edgefer.runner.__main__, edgefer.runner.session, edgefer.runner.energy, edgefer.runner.energy.recorder
from edgefer.runner.energy import rapl, hwmon, vcgencmd, android, external
from edgefer.runner.__main__ import main
sys.exit(main(["bench", {str(onnx_model)!r}, "--out", {str(tmp_path / "r.json")!r}, "--runs", "5", "--energy", "none"]))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "r.json").read_text())["statistics"]["n"] == 5


QEMU_PYTHON = Path("~/.cache/edgefer/qemu-aarch64/python-cortex-a72").expanduser()


@pytest.mark.qemu
@pytest.mark.skipif(not QEMU_PYTHON.exists(), reason="emulated aarch64 board not built (cross/setup-qemu-aarch64.sh)")
def test_runner_under_qemu_aarch64_is_labelled_emulated(onnx_model, tmp_path):
    out = tmp_path / "r.json"
    p = subprocess.run([str(QEMU_PYTHON), "-m", "edgefer.runner", "bench", str(onnx_model), "--out", str(out),
                        "--runs", "5", "--warmup", "1", "--energy", "none"], capture_output=True, text=True,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert r["environment"]["machine"] == "aarch64" and r["environment"]["emulated"] is True
    assert r["environment"]["emulator"] == "qemu-aarch64 (cortex-a72)" and r["statistics"]["n"] == 5
