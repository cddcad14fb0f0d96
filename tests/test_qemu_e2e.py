"""End to end on the emulated aarch64 board: convert a zoo model (ONNX + TFLite, fp32 + int8)
-> deploy over SSH to qemu-aarch64 -> bench -> reports come back labelled emulated -> the
int8-vs-fp32 agreement measured on the board equals the host's.

Needs the board (cross/setup-qemu-aarch64.sh) and sshd (.ci/setup-board.sh installs both);
skips with the reason otherwise. Emulated timings are checked for shape, never for speed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from _deploy_helpers import emulated_board, qemu_missing, ssh_missing

_why = ssh_missing() or qemu_missing()
pytestmark = [pytest.mark.qemu, pytest.mark.ssh, pytest.mark.slow, pytest.mark.skipif(_why is not None, reason=str(_why))]

MODEL = "mobilenet_v1"  # the smallest zoo model at its default input (1x48x48 gray)
HAVE_TFLITE = importlib.util.find_spec("litert_torch") is not None and importlib.util.find_spec("ai_edge_quantizer") is not None
FORMATS = ("onnx", "tflite") if HAVE_TFLITE else ("onnx",)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with emulated_board(tmp_path_factory) as target:
        yield target


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    from edgefer.convert.api import ConvertOptions, convert

    out = tmp_path_factory.mktemp("convert") / MODEL
    res = convert(ConvertOptions(model=MODEL, out=out, formats=FORMATS, target="qemu-aarch64", calib_samples=16),
                  check=False)
    assert not res.errors, res.errors
    return out


def _artifacts(converted: Path) -> dict[tuple[str, str], Path]:
    from edgefer.convert.manifest import read_manifest

    return {(a["format"], a["precision"]): converted / a["file"] for a in read_manifest(converted)["artifacts"]}


def test_converted_all_formats(converted):
    if not HAVE_TFLITE:
        pytest.skip("edgefer[tflite] extra not installed: only ONNX converted")
    assert set(_artifacts(converted)) == {(f, p) for f in FORMATS for p in ("fp32", "int8")}


def test_bench_on_the_emulated_board_is_labelled_emulated(board, converted, tmp_path):
    from edgefer.bench.api import bench
    from edgefer.runner.settings import BenchSettings

    reports = bench(str(converted), BenchSettings(runs=3, warmup=1, threads=1, energy="none"), target=board, out=str(tmp_path))
    assert len(reports) == 2 * len(FORMATS)
    for r in reports:
        env = r["environment"]
        assert env["emulated"] is True and env["emulator"] == "qemu-aarch64 (cortex-a72)"
        assert env["machine"] == "aarch64" and r["target"]["name"] == "qemu-aarch64" and r["target"]["transport"] == "ssh"
        assert r["partial"] is False and r["settings"]["threads"] == 1
        assert r["settings"]["repeat"] == 2 and r["statistics"]["n"] == 3 * 2  # the board profile's repeats
        assert len({x["pid"] for x in r["repeats"]}) == 2 and r["resources"]["model_rss_mb"] is not None
        assert r["model"]["params"]  # host side added it from the manifest
    assert len(list(tmp_path.glob("*.json"))) == len(reports)


@pytest.mark.parametrize("fmt", FORMATS)
def test_int8_agreement_on_the_board_equals_the_host(board, converted, fmt):
    from edgefer.deploy import infer_remote
    from edgefer.runner.runtimes import open_runtime

    arts = _artifacts(converted)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 1, 48, 48)).astype(np.float32)
    host, dev = {}, {}
    for precision in ("fp32", "int8"):
        rt = open_runtime(str(arts[(fmt, precision)]))
        try:
            host[precision] = rt.predict(x)
        finally:
            rt.close()
        dev[precision] = infer_remote(arts[(fmt, precision)], board, x)
        assert dev[precision].shape == host[precision].shape == (16, 7)
    np.testing.assert_allclose(dev["fp32"], host["fp32"], rtol=1e-3, atol=1e-4)

    def agreement(y: dict) -> float:
        return float(np.mean(y["fp32"].argmax(1) == y["int8"].argmax(1)))

    assert agreement(dev) == agreement(host)
