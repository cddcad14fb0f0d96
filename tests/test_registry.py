"""The one name -> implementation registry (edgefer.runner.registry) and its four uses:
runtimes, energy meters, face detectors, transports; the host-only torch runtime; op profiling
as a method of the runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _bench_models import tiny_conv_onnx

from edgefer.errors import EdgeferError
from edgefer.runner.registry import Registry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A module of its own on sys.path, so whether it was imported can be seen in sys.modules."""
    name = f"edgefer_registry_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text("class Thing:\n    def __init__(self, x=0):\n        self.x = x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_name_is_imported_only_when_first_used(plugin):
    reg = Registry("widget")
    reg.register("thing", f"{plugin}:Thing", aliases=("t",))
    assert reg.names() == ("thing",) and "T" in reg and plugin not in sys.modules
    made = reg.create("T", x=3)  # alias, any case
    assert made.x == 3 and plugin in sys.modules
    assert reg.get("thing") is type(made)  # imported once, then kept


def test_unknown_name_is_one_line_with_the_choices_and_a_guess():
    reg = Registry("widget", others="or a .wdg file")
    reg.register("sprocket", "no_such_module:X")
    reg.register("gear", "no_such_module:Y", aliases=("cog",))
    with pytest.raises(EdgeferError) as err:
        reg.get("sprocet")
    msg = err.value.one_line()
    assert msg == ("unknown widget 'sprocet' (did you mean 'sprocket'? "
                   "choose from: sprocket, gear, or a .wdg file)")
    with pytest.raises(EdgeferError, match=r"unknown widget 'zzz' \(choose from: sprocket, gear"):
        reg.canonical("zzz")


def test_a_module_missing_here_says_not_installed(plugin):
    reg = Registry("widget")
    reg.register("gone", "edgefer_no_such_module_anywhere:Thing")
    with pytest.raises(EdgeferError, match="widget 'gone' is not installed here"):
        reg.create("gone")
    with pytest.raises(ValueError, match="package.module:attribute"):
        reg.register("bad", "no colon here")


def test_registering_again_replaces_the_implementation(plugin):
    reg = Registry("widget")
    reg.register("thing", f"{plugin}:Thing")
    first = reg.get("thing")
    reg.register("thing", dict)  # an object instead of a module path
    assert reg.get("thing") is dict and first is not dict and reg.names() == ("thing",)


def test_the_four_registries_list_their_names_and_import_none_of_them():
    code = """
import sys
from edgefer.runner.runtimes import RUNTIMES
from edgefer.runner.energy import METERS
from edgefer.runner.pipeline.detectors import DETECTORS
from edgefer.deploy.transport import TRANSPORTS
print(repr([RUNTIMES.names(), METERS.names(), DETECTORS.names(), TRANSPORTS.names()]))
impls = ("runtimes.onnxrt", "runtimes.litert", "energy.rapl", "energy.external", "detectors.haar",
         "detectors.blazeface", "deploy.ssh", "deploy.adb", "deploy.local", "torch_runtime")
print(sorted(m for m in sys.modules if m.startswith("edgefer") and m.endswith(impls)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    names, imported = out.stdout.splitlines()
    assert eval(names) == [("onnxruntime", "litert"), ("rapl", "hwmon", "vcgencmd", "android", "external"),
                           ("haar", "blazeface"), ("local", "ssh", "adb")]
    assert imported == "[]"


def test_runtime_aliases_and_the_accelerated_litert_api():
    from edgefer.runner.runtimes import RUNTIMES, runtime_for
    from edgefer.runner.runtimes.litert import LiteRTRuntime
    from edgefer.runner.runtimes.litert_compiled import LiteRTCompiledRuntime

    assert [runtime_for("m.onnx", r) for r in ("ORT", "onnx", "onnxruntime")] == ["onnxruntime"] * 3
    assert runtime_for("m.tflite", "tflite_runtime") == "litert"
    assert RUNTIMES.get("litert").implementation({}) is LiteRTRuntime
    assert RUNTIMES.get("litert").implementation({"accelerator": "gpu"}) is LiteRTCompiledRuntime
    with pytest.raises(EdgeferError, match="did you mean 'litert'"):
        runtime_for("m.tflite", "litrt")


def test_energy_meters_take_their_own_spec_keys(tmp_path):
    from edgefer.runner.energy import open_meter

    zone = tmp_path / "rapl"
    zone.mkdir()
    (zone / "energy_uj").write_text("1000000\n")
    (zone / "max_energy_range_uj").write_text("262143328850\n")
    meter = open_meter({"type": "RAPL", "sysfs_root": str(zone), "rail": "ignored", "command": ["x"]})
    assert meter.name == "rapl"
    with pytest.raises(EdgeferError, match="did you mean 'hwmon'"):
        open_meter({"type": "hwmn"})


def test_detectors_by_name_or_by_model_file(tmp_path):
    from edgefer.runner.pipeline.detectors import open_detector

    with pytest.raises(EdgeferError, match="detector file not found"):
        open_detector(str(tmp_path / "face.tflite"))
    with pytest.raises(EdgeferError, match="'blazeface' needs its model file"):
        open_detector("blazeface")  # the host resolves the name to the packaged .tflite first
    with pytest.raises(EdgeferError, match="unknown detector 'yolo'.*Haar cascade .xml"):
        open_detector("yolo")


def test_transports_by_connection_type():
    from edgefer.deploy import open_transport
    from edgefer.deploy.local import LocalTransport
    from edgefer.targets import load_target

    assert type(open_transport(load_target("local"))) is LocalTransport


def test_op_profiling_is_the_runtimes_own_method(tmp_path):
    from edgefer.runner.opprofile import profile_ops
    from edgefer.runner.runtimes import open_runtime
    from edgefer.runner.runtimes.base import Runtime

    class Plain(Runtime):
        name = "plain"

        def load(self, path, threads=None, options=None):
            pass

        def run(self, feeds):
            return feeds

        def version(self):
            return "0"

    class Broken(Plain):
        def profile_ops(self, feeds, runs, warmup):
            raise RuntimeError("profiler crashed")

    none = profile_ops(Plain(), [], 2)
    assert none["status"] == "unavailable" and none["reason"].startswith("runtime 'plain' has no op profiler")
    assert profile_ops(Broken(), [], 2)["reason"] == "profiling failed: RuntimeError: profiler crashed"
    rt = open_runtime(tiny_conv_onnx(tmp_path / "m.onnx", batch=1), threads=1)
    measured = profile_ops(rt, rt.make_inputs(1), 2, warmup=1)
    assert measured["status"] == "measured" and measured["runtime"] == "onnxruntime"


def _converted_torch_dir(tmp_path: Path) -> Path:
    d = tmp_path / "conv"
    d.mkdir()
    tiny_conv_onnx(d / "model_fp32.onnx")
    (d / "manifest.json").write_text(json.dumps({
        "schema_version": "1", "kind": "edgefer.convert.manifest", "model": {"name": "tiny"},
        "source": {"type": "module", "module": f"{REPO / 'tests' / '_bench_models.py'}:tiny_torch",
                   "args": {}},
        "input": {"layout": "NCHW", "input_size": [8, 8], "channels": 1},
        "class_names": [str(i) for i in range(7)],
        "artifacts": [{"file": "model_fp32.onnx", "format": "onnx", "precision": "fp32"}],
    }))
    return d


def test_torch_is_a_runtime_of_the_host_runner_only(tmp_path):
    """The device runner does not know "torch"; the host's entry point registers it (lazily)."""
    d = _converted_torch_dir(tmp_path)
    args = ["bench", str(d), "--runtime", "torch", "--out", str(tmp_path / "r.json"), "--runs", "3",
            "--warmup", "0", "--energy", "none"]
    device = subprocess.run([sys.executable, "-m", "edgefer.runner", *args], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert device.returncode == 2 and device.stderr.strip().splitlines() == [
        "error: unknown runtime 'torch' (choose from: onnxruntime, litert)"]
    lazy = """
import sys
from edgefer.bench.torch_runner import register_torch_runtime, runner_module
from edgefer.runner.runtimes import RUNTIMES
register_torch_runtime()
assert RUNTIMES.names()[-1] == "torch" and "torch" not in sys.modules
assert runner_module("torch") == "edgefer.bench.torch_runner" and runner_module("ort") == "edgefer.runner"
"""
    assert subprocess.run([sys.executable, "-c", lazy], cwd=REPO, timeout=60).returncode == 0
    host = subprocess.run([sys.executable, "-m", "edgefer.bench.torch_runner", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert host.returncode == 0, host.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["runtime"]["name"] == "torch" and report["model"]["name"] == "tiny_torch"
    assert report["statistics"]["n"] == 3 and np.isfinite(report["statistics"]["mean_ms"])
