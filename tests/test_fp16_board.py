"""fp16 artifacts on the emulated aarch64 board (Cortex-A76 model, which has fp16 arithmetic):
onnxruntime and ai-edge-litert there run them, report fp16 and what ran, and give the host's
logits. Run in place under the wrapper (connection local), no sshd needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _deploy_helpers import QEMU_DIR, qemu_missing

_why = qemu_missing()
pytestmark = [pytest.mark.qemu, pytest.mark.tflite, pytest.mark.slow, pytest.mark.skipif(_why is not None, reason=str(_why))]


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    from edgefer.convert.api import ConvertOptions, convert

    out = tmp_path_factory.mktemp("convert") / "tiny"
    convert(ConvertOptions(module="tests/_convert_fixtures.py:build_tiny", input_size=(24, 24), channels=1,
                           out=out, precisions=("fp16",)))
    return out


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from edgefer.targets import load_target
    from edgefer.targets.schema import Target

    t = load_target("qemu-aarch64-a76")
    return Target.model_validate({**t.model_dump(), "connection": {"type": "local"},
                                  "python": [str(QEMU_DIR / "python-cortex-a76")],
                                  "workdir": str(tmp_path_factory.mktemp("board") / "work")})


def test_fp16_runs_on_the_board_with_both_runtimes(board, converted):
    from edgefer.bench.api import bench
    from edgefer.convert.manifest import read_manifest
    from edgefer.deploy import infer_remote
    from edgefer.runner.runtimes import open_runtime
    from edgefer.runner.settings import BenchSettings

    reports = bench(str(converted), BenchSettings(energy="none"), target=board)
    assert {(r["artifact"]["format"], r["runtime"]["name"]) for r in reports} == {("onnx", "onnxruntime"), ("tflite", "litert")}
    for r in reports:
        assert r["artifact"]["precision"] == "fp16" and r["environment"]["emulated"] and r["environment"]["machine"] == "aarch64"
        assert r["accelerators"]["fallbacks"] == []
    onnx_report = next(r for r in reports if r["artifact"]["format"] == "onnx")
    assert onnx_report["accelerators"]["node_counts"]["CPUExecutionProvider"] >= 1
    x = np.random.default_rng(0).standard_normal((2, 1, 24, 24)).astype(np.float32)
    for a in read_manifest(converted)["artifacts"]:
        host = open_runtime(str(converted / a["file"])).predict(x)
        board_logits = infer_remote(converted / a["file"], board, x)
        # fp16 kernels on the A76 (ORT/XNNPACK may compute in fp16 there) vs fp32 compute on x86
        assert np.abs(board_logits - host).max() <= 1e-2 * np.abs(host).max(), a["file"]
