"""edgefer study on the local target: spec errors, the matrix, resume, failed cells, the outputs,
the CLI's exit codes, a disk that fills up mid-study. Real runtimes, real reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _deploy_helpers import tiny_onnx

from edgefer.errors import EdgeferError
from edgefer.study import load_study, run_study

REPO = Path(__file__).resolve().parents[1]
FAST = {"runs": 5, "warmup": 1, "min_seconds": 0, "threads": 1, "energy": "none"}


def write_spec(path: Path, **fields) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "edgefer", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


@pytest.fixture(scope="module")
def tinies(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("models")
    return [tiny_onnx(d / f"tiny{i}.onnx", seed=i) for i in range(2)]


@pytest.mark.parametrize("fields, message", [
    ({"models": []}, "models: List should have at least 1 item"),
    ({"models": [{"zoo": "mobilenet_v1", "artifact": "x.onnx"}]}, "models.0: give exactly one of zoo, module, artifact"),
    ({"models": [{"zoo": "mobilenet_v1"}], "formats": ["keras"]}, "formats.0: Input should be 'torch', 'onnx' or 'tflite'"),
    ({"models": [{"zoo": "mobilenet_v1"}], "bench": {"repeats": 0}}, "bench.repeats: Input should be greater than or equal to 1"),
    ({"models": [{"zoo": "mobilenet_v1"}], "bench": {"runz": 3}}, "bench.runz: Extra inputs are not permitted"),
    ({"models": [{"zoo": "mobilenet_v1"}], "targets": [{"profile": "local", "place": "p"}]}, "place/tags need a coordinator"),
    ({"models": [{"zoo": "mobilenet_v1"}, {"zoo": "mobilenet_v1"}]}, "models[1] has the same name as models[0]"),
    ({"models": [{"module": "net.py:build"}]}, "module needs input"),
])
def test_invalid_specs_name_the_field(tmp_path, fields, message):
    with pytest.raises(EdgeferError) as exc:
        load_study(write_spec(tmp_path / "s.yaml", **fields))
    assert message in exc.value.one_line()
    assert "\n" not in exc.value.one_line()


@pytest.mark.parametrize("fields, message", [
    ({"models": [{"zoo": "mobilenet_v9"}]}, "unknown model 'mobilenet_v9' (did you mean"),
    ({"models": [{"zoo": "mobilenet_v1", "args": {"hed": 1}}]},
     "model mobilenet_v1 takes no argument 'hed' (it accepts: skip, mha)"),
    ({"models": [{"zoo": "mobilenet_v1"}], "targets": ["no-such-board"]}, "unknown target 'no-such-board'"),
    ({"models": [{"artifact": "missing.onnx"}]}, "artifact not found"),
    ({"models": [{"zoo": "mobilenet_v1"}], "targets": ["local", {"profile": "local", "name": "again"}]},
     "targets[1] (again) is the same board as targets[0] (local)"),
])
def test_unknown_model_or_target_is_one_line_exit_2(tmp_path, fields, message):
    spec = write_spec(tmp_path / "s.yaml", out=str(tmp_path / "out"), **fields)
    res = cli("study", str(spec))
    assert res.returncode == 2, res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and message in err[0], res.stderr
    assert "Traceback" not in res.stderr


def test_bad_yaml_is_one_line(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("models: [zoo: x\n")
    res = cli("study", str(spec))
    assert res.returncode == 2 and res.stderr.startswith("error: invalid study") and "YAML syntax" in res.stderr


def test_study_of_ready_artifacts_interleaves_repeats_and_resumes(tmp_path, tinies):
    spec = write_spec(tmp_path / "study.yaml", name="tiny study",
                      models=[{"artifact": str(tinies[0]), "label": "Tiny A"}, {"artifact": str(tinies[1]), "label": "Tiny B"}],
                      formats=["onnx"], targets=["local"], bench={"repeats": 2, **FAST}, out="out")
    run = run_study(spec, plot=False)
    out = tmp_path / "out"
    assert not run.failed and run.measured == 4 and len(run.cells) == 2
    # repeats interleaved on the board: A0 B0 A1 B1 (report creation order)
    order = sorted(out.glob("reports/local/*/repeat-*.json"), key=lambda p: json.loads(p.read_text())["created_utc"] + p.name)
    mtimes = sorted(out.glob("reports/local/*/repeat-*.json"), key=lambda p: p.stat().st_mtime_ns)
    assert [p.name for p in mtimes] == ["repeat-0.json", "repeat-0.json", "repeat-1.json", "repeat-1.json"], order
    res = json.loads((out / "results.json").read_text())
    cell = res["cells"][0]
    lat = cell["figures"]["latency_ms"]
    assert lat["n_repeats"] == 2 and lat["ci_low"] <= lat["value"] <= lat["ci_high"]
    assert lat["reports"] == [f"reports/local/Tiny_A__onnx-file/repeat-{i}.json" for i in range(2)]
    assert all((out / p).is_file() for p in lat["reports"])  # provenance points at real reports
    # rerun: nothing measured again; one more repeat: only that one
    assert run_study(spec, plot=False).measured == 0
    spec.write_text(spec.read_text().replace("repeats: 2", "repeats: 3"))
    again = run_study(spec, plot=False)
    assert again.measured == 2 and again.result["cells"][0]["figures"]["latency_ms"]["n_repeats"] == 3
    # a changed artifact is measured again, the other one is not
    tiny_onnx(tinies[1], seed=7)
    assert run_study(spec, plot=False).measured == 3


def test_zoo_model_with_kwargs_converts_once_and_times_pytorch_eager(tmp_path):
    spec = write_spec(tmp_path / "study.yaml", models=[{"zoo": "mobilenet_v1", "args": {"skip": True}, "label": "MNv1 skip"}],
                      formats=["torch", "onnx"], targets=["local"], bench={"repeats": 1, **FAST}, verify=False, out="out")
    run = run_study(spec)
    assert not run.failed, [c.error for c in run.cells]
    res = run.result
    assert sorted(c["series"] for c in res["cells"]) == ["onnx fp32", "torch fp32"]
    params = res["models"][0]["params"]
    assert params == 3915911 and params != 3213575  # the skip kwarg reached the model (plain MobileNet v1: 3213575)
    for c in res["cells"]:
        rep = json.loads((tmp_path / "out" / c["repeats"][0]["report"]).read_text())
        assert rep["artifact"]["format"] == c["format"]
        assert rep["model"]["params"] == params  # eager rebuilt from the manifest with the same kwargs
    manifest = json.loads((tmp_path / "out/artifacts/MNv1_skip/manifest.json").read_text())
    assert manifest["source"]["args"] == {"skip": True}
    tex = (tmp_path / "out/table.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "Latency (ms)" in tex and "MNv1 skip" in tex
    assert (tmp_path / "out/latency_vs_macs.png").stat().st_size > 0 and (tmp_path / "out/latency_bars.png").is_file()
    mtime = (tmp_path / "out/artifacts/MNv1_skip/manifest.json").stat().st_mtime_ns
    assert run_study(spec, plot=False).measured == 0  # cached; and not converted again:
    assert (tmp_path / "out/artifacts/MNv1_skip/manifest.json").stat().st_mtime_ns == mtime


def test_a_failed_cell_is_kept_and_the_study_goes_on_exit_1(tmp_path, tinies):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    spec = write_spec(tmp_path / "study.yaml",
                      models=[{"artifact": str(broken), "label": "Broken"}, {"artifact": str(tinies[0]), "label": "Tiny"}],
                      formats=["onnx"], targets=["local"], bench={"repeats": 2, **FAST}, out="out")
    res = cli("study", str(spec), "--no-plot")
    assert res.returncode == 1, res.stderr
    assert "1 of 2 cells failed" in res.stderr
    result = json.loads((tmp_path / "out/results.json").read_text())
    bad, good = result["cells"]
    assert bad["status"] == "failed" and bad["error"] and bad["figures"] is None
    assert good["status"] == "ok" and good["figures"]["latency_ms"]["n_repeats"] == 2
    md = (tmp_path / "out/table.md").read_text()
    assert "failed: " in md and "| local | Tiny | onnx |" in md
    tex = (tmp_path / "out/table.tex").read_text()
    assert r"failed$^{\mathrm{a}}$" in tex and "the cell failed" in tex


def test_latex_escapes_and_footnotes():
    from edgefer.study.tables import to_latex

    fig = {"latency_ms": {"value": 12.345, "half_width": 0.5, "ci_low": 11.8, "ci_high": 12.8},
           "energy_mj": {"value": 3.0, "half_width": 0.2, "status": "estimated"}, "emulated": True}
    result = {"name": "A_b & c", "command": "edgefer study s.yaml", "created_utc": "2026-12-01T00:00:00Z",
              "models": [{"id": "m", "label": "Net_1", "params": 2_500_000, "macs": 300_000_000}],
              "targets": [{"id": "qemu", "emulated": True}],
              "cells": [{"target": "qemu", "model": "m", "format": "onnx", "precision": "fp32", "series": "onnx fp32",
                         "status": "ok", "error": None, "figures": fig}]}
    tex = to_latex(result)
    assert r"\caption{A\_b \& c}" in tex and r"Net\_1" in tex and r"12.35 $\pm$ 0.50" in tex
    assert r"qemu$^{\mathrm{a}}$" in tex and r"3.00 $\pm$ 0.20$^{\mathrm{b}}$" in tex
    assert "emulated target (QEMU)" in tex and "estimated energy" in tex
    assert "Params (M) & MACs (M)" in tex


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_disk_full_mid_study_is_one_line_exit_2_and_keeps_finished_cells(tmp_path, tinies):
    out = tmp_path / "small"
    if os.geteuid() != 0 or not _mount_tmpfs(out, "256k"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        models = [{"artifact": str(tinies[i % 2]), "label": f"T{i}"} for i in range(6)]
        spec = write_spec(tmp_path / "study.yaml", models=models, formats=["onnx"], targets=["local"],
                          bench={"repeats": 2, **FAST, "runs": 200}, out=str(out))
        free = os.statvfs(out).f_bavail * os.statvfs(out).f_frsize
        (out / "filler").write_bytes(b"\0" * (free - 24 * 1024))  # room for a few reports only
        res = cli("study", str(spec), "--no-plot")
        assert res.returncode == 2, res.stderr
        errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "disk full" in errors[0] and "Traceback" not in res.stderr, res.stderr
        cache = json.loads((out / "cache.json").read_text())
        assert cache["entries"] and all((out / e["report"]).is_file() for e in cache["entries"].values())
        finished = len(cache["entries"])
        (out / "filler").unlink()
        rerun = run_study(spec, plot=False)
        assert rerun.measured == 12 - finished and not rerun.failed  # the finished ones were kept
    finally:
        subprocess.run(["umount", "-l", str(out)], check=False)


def test_cell_intervals_include_the_targets_session_drift():
    """A cell's interval over its repeats is widened by the profile's between-session CV (the
    drift repeats run back to back cannot see), as compare's is."""
    import numpy as np

    from edgefer.study.figures import _ci_over_repeats

    medians = np.array([10.0, 10.1, 9.9])
    v, lo, hi, method = _ci_over_repeats(medians)
    v2, lo2, hi2, method2 = _ci_over_repeats(medians, 0.035)
    assert v == v2 == pytest.approx(10.0) and lo2 < lo < v < hi < hi2
    assert (hi2 - lo2) / 2 > 1.96 * 0.035 * 10 * 0.9 and "session drift (3.5%)" in method2
    assert "session" not in method
