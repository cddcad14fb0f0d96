"""tflite-runtime 2.14 (numpy < 2) on the emulated aarch64 board: its own view of the board
(python-cortex-a72-tflite-runtime, built by cross/setup-qemu-aarch64.sh) runs fp32, int8 and
fp16 .tflite artifacts; the reports name tflite_runtime, and its logits equal the host's
ai-edge-litert ones. Emulated timings are checked for shape only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _deploy_helpers import QEMU_DIR, qemu_missing

WRAPPER = QEMU_DIR / "python-cortex-a72-tflite-runtime"
_why = qemu_missing() or (None if WRAPPER.is_file() else f"{WRAPPER} missing (rebuild: bash cross/setup-qemu-aarch64.sh)")
pytestmark = [pytest.mark.qemu, pytest.mark.tflite, pytest.mark.slow, pytest.mark.skipif(_why is not None, reason=str(_why))]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    from edgefer.convert.api import ConvertOptions, convert

    out = tmp_path_factory.mktemp("convert") / "tiny"
    res = convert(ConvertOptions(module="tests/_convert_fixtures.py:build_tiny", input_size=(24, 24), channels=1,
                                 out=out, formats=("tflite",), precisions=("fp32", "int8", "fp16"),
                                 calib_samples=16, target="qemu-aarch64-tflite-runtime"), check=False)
    assert not res.errors, res.errors
    return out


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from edgefer.targets import load_target
    from edgefer.targets.schema import Target

    t = load_target("qemu-aarch64-tflite-runtime")
    return Target.model_validate({**t.model_dump(), "python": [str(WRAPPER)],
                                  "workdir": str(tmp_path_factory.mktemp("board") / "work")})


def test_runs_every_precision_with_tflite_runtime(board, converted):
    from edgefer.bench.api import bench
    from edgefer.runner.settings import BenchSettings

    reports = bench(str(converted), BenchSettings(energy="none"), target=board)
    assert sorted(r["artifact"]["precision"] for r in reports) == ["fp16", "fp32", "int8"]
    for r in reports:
        assert r["runtime"]["name"] == "tflite_runtime" and r["runtime"]["version"] == "2.14.0"
        assert r["environment"]["emulated"] and r["environment"]["numpy"].startswith("1.")
        assert r["environment"]["machine"] == "aarch64"
        assert r["statistics"]["n"] >= 5 and not r["partial"]
        acc = r["accelerators"]
        assert acc["runtime"] == "tflite_runtime" and acc["api"] == "Interpreter"


def test_logits_match_the_hosts_litert(board, converted):
    from edgefer.convert.manifest import read_manifest
    from edgefer.deploy import infer_remote
    from edgefer.runner.runtimes import open_runtime

    x = np.random.default_rng(0).standard_normal((4, 1, 24, 24)).astype(np.float32)
    for a in read_manifest(converted)["artifacts"]:
        path = converted / a["file"]
        host = open_runtime(str(path)).predict(x)
        on_board = infer_remote(path, board, x)
        # same kernels family (XNNPACK), different builds: int8 may differ by one quantization step
        tol = 1e-4 if a["precision"] != "int8" else 0.05 * float(np.abs(host).max())
        assert np.abs(on_board - host).max() <= tol, (a["file"], np.abs(on_board - host).max())


def test_compiled_model_api_is_refused_with_the_reason(board, converted):
    from edgefer.bench.accel_choice import AccelRequest
    from edgefer.bench.api import bench
    from edgefer.errors import EdgeferError
    from edgefer.runner.settings import BenchSettings

    with pytest.raises(EdgeferError, match="CompiledModel API needs ai_edge_litert"):
        bench(str(converted / "build_tiny_fp32.tflite"), BenchSettings(energy="none"), target=board,
              accel=AccelRequest(accelerator="cpu"))


def test_numpy_2_beside_tflite_runtime_is_a_one_line_error(converted, tmp_path):
    """pip pairs tflite-runtime 2.14 with numpy 2 (its metadata has no upper bound); the runner
    then says what to install instead of crashing with a SystemError."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[1]
    numpy2_site = tmp_path / "numpy2"  # numpy 2 from the main view, ahead of the wrapper's own site
    numpy2_site.mkdir()
    for entry in (QEMU_DIR / "site").glob("numpy*"):
        (numpy2_site / entry.name).symlink_to(entry)
    r = subprocess.run([str(WRAPPER), "-m", "edgefer.runner", "bench", str(converted / "build_tiny_fp32.tflite"),
                        "--out", str(tmp_path / "r.json"), "--energy", "none", "--runs", "1"],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": f"{numpy2_site}:{root}"})
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "built for numpy 1.x" in errors[0] and "numpy<2" in errors[0], r.stderr
