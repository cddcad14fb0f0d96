"""Accelerator requests: provider specs and their validation, the one-line errors (exit 2) for
missing/unknown accelerators and bad options, fallbacks only when allowed and always recorded,
node counts per provider, LiteRT's CompiledModel CPU path next to the Interpreter, profiles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _bench_models import tiny_conv_onnx

from edgefer.errors import EdgeferError
from edgefer.report.bench import validate_report
from edgefer.runner.accel import parse_litert_accelerators, parse_providers, provider_spec_text
from edgefer.runner.runtimes import open_runtime
from edgefer.runner.session import run_bench
from edgefer.runner.settings import BenchSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory) -> Path:
    return tiny_conv_onnx(tmp_path_factory.mktemp("accel") / "tiny_fp32.onnx")


@pytest.fixture(scope="module")
def tflite_model(tmp_path_factory) -> Path:
    pytest.importorskip("litert_torch")
    import torch
    from _convert_fixtures import build_tiny

    from edgefer.convert.tflite import export_tflite_fp32

    path = tmp_path_factory.mktemp("accel-tfl") / "tiny_fp32.tflite"
    export_tflite_fp32(build_tiny(), torch.zeros(1, 1, 24, 24), path)
    return path


def _runner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgefer.runner", *args], capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_provider_specs_parse_aliases_and_options():
    specs = parse_providers("tensorrt:trt_fp16_enable=True;trt_int8_enable=False,cuda:device_id=0,cpu")
    assert specs == [("TensorrtExecutionProvider", {"trt_fp16_enable": "True", "trt_int8_enable": "False"}),
                     ("CUDAExecutionProvider", {"device_id": "0"}), ("CPUExecutionProvider", {})]
    assert parse_providers([{"name": "qnn", "options": {"backend_path": "libQnnHtp.so"}}]) == [
        ("QNNExecutionProvider", {"backend_path": "libQnnHtp.so"})]
    assert provider_spec_text(*specs[0]) == "TensorrtExecutionProvider:trt_fp16_enable=True;trt_int8_enable=False"
    assert parse_litert_accelerators("GPU, cpu") == ["gpu", "cpu"]


@pytest.mark.parametrize("spec,message", [
    ("cuda,tpu", "unknown onnxruntime provider 'tpu'"),
    ("cpu,cpu", "listed twice"),
    ("tensorrt:trt_fp16_enable", "is not key=value"),
    ("tensorrt:trt_fp16_enable=maybe", "must be True or False"),
    ("tensorrt:trt_engine_cache_path=/proc/edgefer-cache", "is not a writable directory"),
    ("qnn:backend_path=/nonexistent/libQnnHtp.so", "QNN backend_path /nonexistent/libQnnHtp.so does not exist"),
    ("cuda:device_id=first", "device_id must be a GPU number"),
])
def test_bad_provider_specs_are_one_line_errors(spec, message):
    with pytest.raises(EdgeferError, match=message) as exc:
        parse_providers(spec)
    assert "\n" not in exc.value.one_line()


def test_unwritable_trt_cache_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.access(ro, os.W_OK):  # root ignores permission bits: use a path under a file instead
            ro = tmp_path / "a-file"
            ro.write_text("")
            ro = ro / "cache"
        with pytest.raises(EdgeferError, match="trt_engine_cache_path .* is not a writable directory"):
            parse_providers(f"tensorrt:trt_engine_cache_enable=True;trt_engine_cache_path={ro}")
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_missing_provider_names_what_is_available(onnx_model):
    import onnxruntime as ort

    with pytest.raises(EdgeferError) as exc:
        open_runtime(str(onnx_model), providers=["cuda", "cpu"])
    text = exc.value.one_line()
    assert "CUDAExecutionProvider not available here" in text
    assert all(p in text for p in ort.get_available_providers()) and "--allow-fallback" in text


def test_runner_cli_exit_2_one_line(onnx_model, tmp_path):
    r = _runner("bench", str(onnx_model), "--out", str(tmp_path / "r.json"), "--providers", "tensorrt,cpu",
                "--energy", "none", "--runs", "1")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error: onnxruntime provider(s) TensorrtExecutionProvider")
    assert not (tmp_path / "r.json").exists()


def test_allowed_fallback_runs_on_cpu_and_is_recorded(onnx_model):
    r = run_bench(str(onnx_model), BenchSettings(providers=("cuda:device_id=0", "cpu"), accel={"allow_fallback": True},
                                              runs=3, warmup=1, energy="none"))
    validate_report(r)
    a = r["accelerators"]
    assert a["requested"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert a["used"] == ["CPUExecutionProvider"] == r["runtime"]["providers"]
    assert a["options"] == {"CUDAExecutionProvider": {"device_id": "0"}}
    (fb,) = a["fallbacks"]
    assert fb["requested"] == "CUDAExecutionProvider" and fb["ran_on"] == "CPUExecutionProvider"


def test_node_counts_come_from_onnxruntime_profiling(onnx_model):
    import onnx

    r = run_bench(str(onnx_model), BenchSettings(runs=2, warmup=0, energy="none"))
    a = r["accelerators"]
    assert a["fallbacks"] == [] and a["used"] == ["CPUExecutionProvider"]
    counts = a["node_counts"]
    assert set(counts) == {"CPUExecutionProvider"}
    # ORT fuses/rewrites nodes, so its count is not the file's, but it is of that order
    n_file = len(onnx.load(str(onnx_model)).graph.node)
    assert 1 <= counts["CPUExecutionProvider"] <= n_file + 4
    assert "profiling" in a["node_counts_source"]


def test_litert_compiled_cpu_matches_the_interpreter(tflite_model):
    x = np.random.default_rng(0).standard_normal((3, 1, 24, 24)).astype(np.float32)
    interp = open_runtime(str(tflite_model))
    compiled = open_runtime(str(tflite_model), threads=1, accelerator="cpu")
    assert type(compiled).__name__ == "LiteRTCompiledRuntime"
    assert [t.shape for t in compiled.inputs] == [t.shape for t in interp.inputs]
    assert compiled.inputs[0].layout == "NHWC"
    np.testing.assert_allclose(compiled.predict(x), interp.predict(x), rtol=1e-5, atol=1e-5)
    r = run_bench(str(tflite_model), BenchSettings(accel={"accelerator": "cpu"}, runs=5, warmup=1, energy="none"))
    validate_report(r)
    assert r["accelerators"]["api"] == "CompiledModel" and r["accelerators"]["used"] == ["cpu"]
    assert r["accelerators"]["fully_accelerated"] is True
    assert r["runtime"]["delegates"] == ["CompiledModel:CPU"] and r["statistics"]["n"] >= 5


def test_litert_gpu_missing_is_an_error_or_a_recorded_fallback(tflite_model):
    with pytest.raises(EdgeferError, match=r"LiteRT accelerator GPU cannot run .* available here: CPU") as exc:
        open_runtime(str(tflite_model), accelerator="gpu")
    assert "\n" not in exc.value.one_line()
    r = run_bench(str(tflite_model), BenchSettings(accel={"accelerator": "gpu,cpu", "allow_fallback": True}, runs=2,
                                                 warmup=0, energy="none"))
    a = validate_report(r).accelerators
    assert a.used == ["cpu"] and a.fallbacks[0].requested == "gpu,cpu" and "GPU" in a.fallbacks[0].reason


def test_litert_npu_without_a_dispatch_library(tflite_model, tmp_path):
    # npu+cpu would quietly run all on the CPU; without a loadable dispatch library it is "missing"
    with pytest.raises(EdgeferError, match="NPU is not available here"):
        open_runtime(str(tflite_model), accelerator="npu,cpu")
    with pytest.raises(EdgeferError, match="dispatch library .* does not exist"):
        open_runtime(str(tflite_model), accelerator="npu", dispatch_library=str(tmp_path / "libnope.so"))
    with pytest.raises(EdgeferError, match="unknown LiteRT accelerator 'tpu'"):
        open_runtime(str(tflite_model), accelerator="tpu")


def test_cli_bench_errors_exit_2(onnx_model, tflite_model):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "edgefer", "bench", *args, "--energy", "none", "--runs", "1"],
                              capture_output=True, text=True, cwd=ROOT, timeout=300,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})

    for args, message in [
        ((str(onnx_model), "--providers", "cuda"), "not available here (available:"),
        ((str(onnx_model), "--providers", "warp9"), "unknown onnxruntime provider 'warp9'"),
        ((str(onnx_model), "--accelerator", "gpu"), "are LiteRT's; for .onnx use --providers"),
        ((str(tflite_model), "--providers", "cpu"), "for .tflite use --accelerator"),
        ((str(tflite_model), "--accelerator", "gpu"), "LiteRT accelerator GPU cannot run"),
    ]:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and message in lines[0], (args, r.stderr)


def test_profile_precision_rule(onnx_model, tmp_path):
    """int8 through TensorRT on Jetson Nano's Maxwell GPU (no int8) is refused before deploying."""
    from edgefer.bench.accel_choice import AccelRequest, job_accel
    from edgefer.targets import load_target

    nano = load_target("jetson-nano")
    with pytest.raises(EdgeferError, match="int8 artifact cannot run on Maxwell"):
        job_accel(nano, AccelRequest(), "m_int8.onnx", "int8", None)
    specs, accel = job_accel(nano, AccelRequest(), "m_fp16.onnx", "fp16", None)
    assert specs[0].startswith("TensorrtExecutionProvider:trt_fp16_enable=True") and accel == {"allow_fallback": False}
    specs, _ = job_accel(nano, AccelRequest(providers="cpu"), "m_int8.onnx", "int8", None)
    assert specs == ["cpu"]
    snap = load_target("snapdragon-8gen2")
    assert job_accel(snap, AccelRequest(), "m.tflite", "fp16", None)[1]["accelerator"] == "gpu,cpu"
    assert job_accel(snap, AccelRequest(accelerator="interpreter"), "m.tflite", "int8", None)[1] == {"allow_fallback": False}


def test_targets_check_names_missing_precisions():
    from edgefer.targets import load_target
    from edgefer.targets.checks import check_target

    nano = check_target(load_target("jetson-nano"))
    assert any("has no int8" in w and "Maxwell" in w for w in nano)
    assert any("onnxruntime-gpu built for JetPack 4.6" in w for w in nano)
    orin = check_target(load_target("jetson-orin-nano"))
    assert not any("has no int8" in w for w in orin) and any("runs fp16" in w for w in orin)
    snap = check_target(load_target("snapdragon-8gen2"))
    assert any("Adreno 740 has no int8" in w for w in snap) and any("QNNExecutionProvider need" in w for w in snap)


def test_profile_schema_rejects_unknown_providers(tmp_path):
    from edgefer.targets import load_target

    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"name": "bad", "arch": "aarch64", "cpu": {"model": "x", "cores": 1},
                               "runtimes": {"onnxruntime": {"providers": ["CUDAExecutionProvider", "Warp9"]}}}))
    with pytest.raises(EdgeferError, match="unknown onnxruntime provider 'Warp9'"):
        load_target(str(bad))


def test_profile_providers_reach_a_remote_runner_as_flags(onnx_model, tmp_path):
    """What bench sends a board: the profile's providers with options, and --accel-json; the
    device-side runner parses them back (here run locally, where CUDA is missing: exit 2)."""
    from edgefer.bench.accel_choice import AccelRequest, job_accel
    from edgefer.runner.settings import BenchSettings
    from edgefer.targets import load_target

    specs, accel = job_accel(load_target("jetson-orin-nano"), AccelRequest(allow_fallback=True), "m_fp32.onnx", "fp32", None)
    args = BenchSettings(providers=tuple(specs), accel=accel, energy="none").validate().to_argv()
    i = args.index("--providers")
    assert args[i + 1].startswith("TensorrtExecutionProvider:trt_fp16_enable=True;trt_engine_cache_enable=True;")
    assert args[i + 1].endswith(",CUDAExecutionProvider,CPUExecutionProvider")
    assert json.loads(args[args.index("--accel-json") + 1]) == {"allow_fallback": True}
    cache = tmp_path / "trt cache"
    providers = args[i + 1].replace("/home/jetson/edgefer/trt-cache", str(cache))
    r = _runner("bench", str(onnx_model), "--out", str(tmp_path / "r.json"), "--providers", providers,
                "--accel-json", json.dumps(accel), "--energy", "none", "--runs", "2", "--warmup", "0")
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())["accelerators"]
    assert cache.is_dir()  # the runner made the (writable) engine cache directory
    assert [f["requested"] for f in rep["fallbacks"]] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert rep["options"]["TensorrtExecutionProvider"]["trt_fp16_enable"] == "True"
