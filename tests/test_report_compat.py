"""Reports written by edgefer 0.2.0 before the package split (tests/data/reports-0.2.0: two bench
reports of a tiny ONNX model, 2 repeats each, and a 2-repeat pipeline report, made by commit
96ed3bc) still load, show, compare and render: the redesign changed the code's layout, not the
files users keep."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "reports-0.2.0"
BENCH_A, BENCH_B, PIPELINE = DATA / "bench_a.json", DATA / "bench_b.json", DATA / "pipeline.json"


def _edgefer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgefer", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_old_bench_reports_validate_with_their_samples():
    from edgefer.report.bench import load_report

    for path in (BENCH_A, BENCH_B):
        report = load_report(path)
        raw = json.loads(path.read_text())
        assert report.schema_version == "2" and report.edgefer_version == "0.2.0"
        assert len(report.repeats) == 2
        assert report.timing.samples_ns == raw["timing"]["samples_ns"]
        assert report.statistics.p50_ms == raw["statistics"]["p50_ms"]


def test_old_pipeline_report_validates():
    from edgefer.report.pipeline import validate_pipeline_report

    raw = json.loads(PIPELINE.read_text())
    report = validate_pipeline_report(raw, str(PIPELINE))
    assert len(report.repeats) == 2
    assert report.statistics.frames == raw["statistics"]["frames"] > 0


def test_old_reports_show_and_compare(tmp_path):
    shown = _edgefer("report", "show", str(BENCH_A), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "tiny.onnx" in shown.stdout and "p50" in shown.stdout
    shown = _edgefer("report", "show", str(PIPELINE), cwd=tmp_path)
    assert shown.returncode == 0 and "e2e" in shown.stdout, shown.stderr
    compared = _edgefer("compare", str(BENCH_A), str(BENCH_B), "--json", str(tmp_path / "cmp.json"), cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    result = json.loads((tmp_path / "cmp.json").read_text())
    assert len(result["reports"]) == 2 and result["metrics"]


def test_old_reports_render_as_html(tmp_path):
    out = tmp_path / "old.html"
    res = _edgefer("report", "html", str(BENCH_A), str(BENCH_B), str(PIPELINE), "-o", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    page = out.read_text()
    assert "edgefer 0.2.0 before the package split" in page and "<img" in page
