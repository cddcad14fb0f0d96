"""Per-op profiles (`bench --op-profile N`): onnxruntime's session profiler, LiteRT's delegate
partitions, the report sections, `report show`, `compare` by op family and the roofline figures.

Small real models (onnx.helper graphs, a tiny torch net through the real TFLite converter), real
runtimes; the emulated-board test runs the runner under QEMU over a real sshd.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _bench_models import tiny_conv_onnx
from _deploy_helpers import QEMU_DIR, qemu_missing, ssh_missing, start_sshd

from edgefer.runner.settings import BenchSettings

FAST = BenchSettings(runs=5, warmup=1, min_seconds=0.0, energy="none", threads=1)
REPO = Path(__file__).resolve().parent.parent


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def hardswish_onnx(path: Path, size: int = 16) -> Path:
    """Conv -> HardSwish -> Conv -> GlobalAveragePool -> Flatten -> Gemm (HardSwish has no int8 kernel in ORT)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    arrays = {"w1": rng.standard_normal((8, 1, 3, 3)), "b1": rng.standard_normal(8),
              "w2": rng.standard_normal((8, 8, 3, 3)), "b2": rng.standard_normal(8),
              "fw": rng.standard_normal((7, 8)), "fb": rng.standard_normal(7)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("HardSwish", ["c1"], ["h"], name="hswish"),
        helper.make_node("Conv", ["h", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "hswish", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7])],
        [numpy_helper.from_array(a.astype(np.float32), n) for n, a in arrays.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def onnx_pair(tmp_path_factory) -> dict[str, Path]:
    from edgefer.convert.onnx_quant import quantize_onnx_int8

    d = tmp_path_factory.mktemp("ortprof")
    fp32 = hardswish_onnx(d / "hs_fp32.onnx")
    calib = np.random.default_rng(1).standard_normal((8, 1, 16, 16)).astype(np.float32)
    quantize_onnx_int8(fp32, calib, d / "hs_int8.onnx")
    return {"fp32": fp32, "int8": d / "hs_int8.onnx"}


def test_onnxruntime_profile_is_separate_and_adds_up(onnx_pair):
    from edgefer.report.bench import validate_report
    from edgefer.runner.session import run_bench

    r = run_bench(str(onnx_pair["fp32"]), FAST.with_(op_profile=4))
    op = r["op_profile"]
    assert op["status"] == "measured" and op["runtime"] == "onnxruntime"
    assert op["profiled_runs"] == 4 and r["statistics"]["n"] == FAST.runs  # timed runs untouched
    assert len(r["timing"]["samples_ns"]) == FAST.runs
    types = {n["op_type"] for n in op["nodes"]}
    assert "Conv" in types and "Gemm" in types
    assert all(n["provider"] == "CPUExecutionProvider" and n["mean_ms"] >= 0 for n in op["nodes"])
    assert sum(n["share"] for n in op["nodes"]) == pytest.approx(1.0)
    assert sum(t["mean_ms"] for t in op["op_types"]) == pytest.approx(op["nodes_total_ms"])
    assert op["nodes_total_ms"] <= op["model_run_mean_ms"]  # nodes run inside model_run
    conv = next(n for n in op["nodes"] if n["op_type"] == "Conv")
    assert conv["input_shapes"][0] == [1, 1, 16, 16] and conv["p50_ms"] is not None
    assert op["quantization"] is None  # an fp32 graph has no Q/DQ
    validate_report(r)


def test_qdq_model_shows_conversions_and_float_islands(onnx_pair):
    from edgefer.runner.session import run_bench

    op = run_bench(str(onnx_pair["int8"]), FAST.with_(op_profile=3))["op_profile"]
    q = op["quantization"]
    assert q is not None and q["quantize_nodes"] >= 1 and q["dequantize_nodes"] >= 1
    precisions = {n["op_type"]: n["precision"] for n in op["nodes"]}
    assert precisions["QuantizeLinear"] == "qdq" and precisions.get("QLinearConv") == "int8"
    island_ops = {t for i in q["float_islands"] for t in i["op_types"]}
    # onnxruntime runs HardSwish as HardSigmoid x Mul; HardSigmoid has no int8 kernel: float between DQ and Q
    assert "HardSigmoid" in island_ops
    assert q["float_island_ms"] == pytest.approx(sum(i["compute_ms"] for i in q["float_islands"]))


def test_bench_report_show_and_compare(onnx_pair, tmp_path):
    from edgefer.bench.api import bench

    for p in ("fp32", "int8"):
        bench(str(onnx_pair[p]), FAST.with_(op_profile=3), out=str(tmp_path / f"{p}.json"), precision=p)
    rep = json.loads((tmp_path / "int8.json").read_text())
    assert rep["op_profile"]["profiled_runs"] == 3 and rep["roofline"]["label"] == "computed from nominal specs"
    assert rep["roofline"]["achieved_gmacs"] is None and "MACs are unknown" in rep["roofline"]["reason"]
    run = [sys.executable, "-m", "edgefer"]
    show = subprocess.run(run + ["report", "show", str(tmp_path / "int8.json")], capture_output=True, text=True,
                          env={**_env(), "COLUMNS": "200"})
    assert show.returncode == 0, show.stderr
    for text in ("3 profiled run(s)", "separate from the timed runs", "time per op type", "QLinearConv",
                 "float islands", "HardSigmoid"):
        assert text in show.stdout, text
    md = subprocess.run(run + ["report", "show", "--markdown", str(tmp_path / "fp32.json")], capture_output=True,
                        text=True, env=_env())
    assert "**time per op type**" in md.stdout
    cmp = subprocess.run(run + ["compare", str(tmp_path / "fp32.json"), str(tmp_path / "int8.json"), "--json",
                                str(tmp_path / "cmp.json")], capture_output=True, text=True,
                         env={**_env(), "COLUMNS": "200"})
    assert cmp.returncode == 0, cmp.stderr
    assert "op types: int8 vs fp32" in cmp.stdout and "Q/DQ conversions" in cmp.stdout
    [change] = json.loads((tmp_path / "cmp.json").read_text())["op_types"]
    rows = {r["family"]: r for r in change["rows"]}
    assert rows["Q/DQ conversions"]["baseline_ms"] is None and rows["Q/DQ conversions"]["other_ms"] > 0
    assert "QLinearConv" in rows["Conv"]["other_types"]  # int8 conv compared with the float conv it replaces


def test_runner_cli_op_profile(tmp_path):
    model = tiny_conv_onnx(tmp_path / "tiny.onnx", batch=1)
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, "-m", "edgefer.runner", "bench", str(model), "--out", str(out),
                          "--runs", "3", "--warmup", "1", "--energy", "none", "--op-profile", "2"],
                         capture_output=True, text=True, env=_env())
    assert res.returncode == 0, res.stderr
    rep = json.loads(out.read_text())
    assert rep["op_profile"]["profiled_runs"] == 2 and rep["statistics"]["n"] == 3 * rep["settings"]["repeat"]
    bad = subprocess.run([sys.executable, "-m", "edgefer.runner", "bench", str(model), "--out", str(out),
                          "--op-profile", "-1"], capture_output=True, text=True, env=_env())
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: --op-profile")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_op_profilers_import_only_device_side_modules(tmp_path):
    """The profilers run on the board: no torch/pydantic/onnx/rich there (same rule as the runner)."""
    model = tiny_conv_onnx(tmp_path / "tiny.onnx", batch=1)
    code = f"""
import sys
for name in ("torch", "pydantic", "typer", "rich", "onnx", "yaml"):
    sys.modules[name] = None
import edgefer.runner.opprofile, edgefer.runner.opprofile.onnxrt, edgefer.runner.opprofile.litert
from edgefer.runner.__main__ import main
sys.exit(main(["bench", {str(model)!r}, "--out", {str(tmp_path / "r.json")!r}, "--runs", "2", "--energy", "none",
               "--op-profile", "2"]))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads((tmp_path / "r.json").read_text())["op_profile"]["status"] == "measured"


def test_cli_bad_op_profile_value_is_one_line(tmp_path):
    model = tiny_conv_onnx(tmp_path / "tiny.onnx", batch=1)
    res = subprocess.run([sys.executable, "-m", "edgefer", "bench", str(model), "--op-profile", "-2"],
                         capture_output=True, text=True, env=_env())
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: --op-profile") and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_runtime_without_profiler_explains_in_one_line_and_still_benchmarks(tmp_path):
    """The torch reference runtime has no op profiler: one note line, the benchmark runs."""
    out = tmp_path / "torch.json"
    res = subprocess.run([sys.executable, "-m", "edgefer", "bench", "mobilenet_v1", "--runtime", "torch",
                          "--op-profile", "2", "--runs", "2", "--warmup", "0", "--min-seconds", "0", "--energy",
                          "none", "--repeat", "2", "--out", str(out)], capture_output=True, text=True,
                         env={**_env(), "COLUMNS": "400"})
    assert res.returncode == 0, res.stderr
    notes = [ln for ln in res.stderr.splitlines() if ln.startswith("note: --op-profile")]
    assert len(notes) == 1 and "has no op profiler" in notes[0]
    rep = json.loads(out.read_text())
    assert rep["statistics"]["n"] == 2 * 2 and rep["op_profile"]["status"] == "unavailable"  # 2 repeats
    assert rep["roofline"]["achieved_gmacs"] > 0  # the torch runtime counts its own MACs


def test_roofline_arithmetic_against_a_board_profile():
    """GMAC/s = MACs / p50 and peak = cores x clock x MACs/cycle from targets/rpi5.yaml."""
    from edgefer.bench.roofline import roofline_section
    from edgefer.targets import load_target

    rpi5 = load_target("rpi5")
    report = {"statistics": {"p50_ms": 2.0}, "model": {"macs": 100_000_000}, "settings": {"batch_size": 1, "threads": 2},
              "runtime": {"threads": 2}, "artifact": {"precision": "int8"}}
    r = roofline_section(report, rpi5, None)
    assert r["achieved_gmacs"] == pytest.approx(50.0)
    assert r["peak_gmacs"] == pytest.approx(2 * 2.4 * 32)  # 2 cores, 2400 MHz, SDOT 32 MACs/cycle
    assert r["fraction_of_peak"] == pytest.approx(50.0 / 153.6)
    assert "Cortex-A76" in r["peak_basis"] and r["peak_sources"] and r["label"] == "computed from nominal specs"
    fp32 = roofline_section({**report, "artifact": {"precision": "fp32"}}, rpi5, None)
    assert fp32["peak_gmacs"] == pytest.approx(2 * 2.4 * 8)
    emulated = roofline_section(report, load_target("qemu-aarch64-a76"), None)
    assert emulated["peak_gmacs"] is None and "emulated" in emulated["reason"]


def test_per_node_macs_from_the_onnx_graph(onnx_pair):
    from edgefer.bench.roofline import graph_macs

    macs = graph_macs(str(onnx_pair["fp32"]))
    assert macs["conv1"] == 16 * 16 * 8 * 1 * 9 and macs["conv2"] == 16 * 16 * 8 * 8 * 9 and macs["fc"] == 7 * 8
    int8 = graph_macs(str(onnx_pair["int8"]))
    assert int8["conv2"] == macs["conv2"]  # QDQ graph: same convs, weights behind DequantizeLinear


def test_target_peak_figures_need_a_source():
    from pydantic import ValidationError

    from edgefer.targets.schema import Cluster

    with pytest.raises(ValidationError, match="simd_source"):
        Cluster(core="Cortex-A76", count=4, max_mhz=2400, fp32_macs_per_cycle=8)
    assert Cluster(core="Cortex-A76", count=4).fp32_macs_per_cycle is None  # optional: old profiles stay valid


# --- LiteRT ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tflite_pair(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_quantizer")
    import torch
    from torch import nn

    from edgefer.convert.tflite import export_tflite_fp32, quantize_tflite_int8

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Hardswish(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 7)).eval()
    d = tmp_path_factory.mktemp("tfliteprof")
    export_tflite_fp32(model, torch.zeros(1, 1, 16, 16), d / "hs_fp32.tflite")
    calib = np.random.default_rng(0).standard_normal((16, 1, 16, 16)).astype(np.float32)
    quantize_tflite_int8(d / "hs_fp32.tflite", calib, d / "hs_int8.tflite")
    return {"fp32": d / "hs_fp32.tflite", "int8": d / "hs_int8.tflite"}


@pytest.mark.tflite
def test_litert_partitions_and_an_op_the_delegate_does_not_take(tflite_pair):
    from edgefer.report.bench import validate_report
    from edgefer.runner.session import run_bench

    fp32 = run_bench(str(tflite_pair["fp32"]), FAST.with_(op_profile=3))
    op = fp32["op_profile"]
    assert op["status"] == "partitions_only" and op["profiled_runs"] == 0
    assert "per-op times are unavailable" in op["reason"]
    assert all(n["mean_ms"] is None for n in op["nodes"])  # never invented
    d = op["delegation"]
    assert d["delegate"] == "XNNPACK" and d["ops_builtin"] == 0 and d["partitions"] == 1
    validate_report(fp32)

    int8 = run_bench(str(tflite_pair["int8"]), FAST.with_(op_profile=3))["op_profile"]
    types = {t["op_type"]: t for t in int8["op_types"]}
    assert types["HARD_SWISH"]["builtin"] == types["HARD_SWISH"]["count"] >= 1  # int8 HARD_SWISH stays on built-in kernels
    assert types["CONV_2D"]["delegated"] == types["CONV_2D"]["count"]
    assert int8["delegation"]["partitions"] >= 2  # the built-in op splits the graph
    builtin = [n for n in int8["nodes"] if n["provider"] == "builtin"]
    assert {n["op_type"] for n in builtin} == {"HARD_SWISH"}


@pytest.mark.tflite
def test_litert_without_xnnpack_delegates_nothing(tflite_pair):
    from edgefer.runner.session import run_bench

    op = run_bench(str(tflite_pair["fp32"]), FAST.with_(op_profile=1, xnnpack=False))["op_profile"]
    assert op["delegation"]["ops_delegated"] == 0 and op["delegation"]["delegate"] is None


# --- the emulated board ------------------------------------------------------------------------

_board_missing = ssh_missing() or qemu_missing()


@pytest.mark.qemu
@pytest.mark.ssh
@pytest.mark.slow
@pytest.mark.skipif(_board_missing is not None, reason=str(_board_missing))
def test_op_profile_on_the_emulated_board_is_labelled_emulated(tmp_path, onnx_pair):
    from edgefer.bench.api import bench
    from edgefer.report.bench import render, validate_report

    server = start_sshd(tmp_path / "sshd")
    try:
        board = server.target("qemu-aarch64-a76", workdir=str(tmp_path / "board"),
                              python=[str(QEMU_DIR / "python-cortex-a76")])
        [r] = bench(str(onnx_pair["int8"]), BenchSettings(op_profile=2, runs=2, warmup=1, threads=1, energy="none"), target=board)
    finally:
        server.stop()
    assert r["environment"]["emulated"] is True and r["environment"]["machine"] == "aarch64"
    op = r["op_profile"]
    assert op["status"] == "measured" and op["profiled_runs"] == 2 and r["statistics"]["n"] == 2 * r["settings"]["repeat"]
    assert op["quantization"]["quantize_nodes"] >= 1
    assert r["roofline"]["peak_gmacs"] is None and "emulated" in r["roofline"]["reason"]
    from rich.console import Console

    console = Console(record=True, width=200)
    render(validate_report(r), console)
    assert "EMULATED" in console.export_text()
