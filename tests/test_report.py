"""Report schema: runner output validates, bad files are one-line errors, rendering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _bench_models import tiny_conv_onnx

from edgefer.errors import EdgeferError
from edgefer.report.bench import load_report, to_markdown, validate_report
from edgefer.runner.files import write_json_atomic
from edgefer.runner.session import run_bench
from edgefer.runner.settings import BenchSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    m = tiny_conv_onnx(tmp_path_factory.mktemp("m") / "tiny_int8.onnx")
    return run_bench(str(m), BenchSettings(runs=10, warmup=1, energy="none"))


def test_runner_report_validates_and_roundtrips(report, tmp_path):
    r = validate_report(report)
    assert r.schema_version == "2" and r.statistics.n == 10 and r.artifact.precision == "int8"
    assert len(r.repeats) == 1 and r.repeats[0].samples_ns == report["timing"]["samples_ns"]
    assert r.statistics.between_repeats.repeats == 1 and r.statistics.between_repeats.cv is None
    write_json_atomic(tmp_path / "r.json", report)
    assert load_report(tmp_path / "r.json").model_dump(mode="json")["timing"] == report["timing"]


def test_invalid_reports_are_one_line_errors(report, tmp_path):
    cases = {
        "notjson.json": "{ not json",
        "list.json": "[]",
        "wrongversion.json": json.dumps({**report, "schema_version": "3"}),
        "badstats.json": json.dumps({**report, "statistics": {"n": "many"}}),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(EdgeferError) as exc:
            load_report(tmp_path / name)
        assert name in str(exc.value) and "\n" not in exc.value.one_line()
    with pytest.raises(EdgeferError, match="not found"):
        load_report(tmp_path / "missing.json")


def test_markdown_labels_partial_emulated_and_estimated(report):
    r = dict(report, partial=True, partial_reason="interrupted (KeyboardInterrupt)")
    r["environment"] = dict(report["environment"], emulated=True, emulator="qemu-aarch64 (cortex-a72)")
    r["energy"] = {**report["energy"], "status": "estimated", "reason": "estimated from nominal power",
                   "mean_power_w": 6.4, "energy_per_inference_j": 0.01}
    md = to_markdown(validate_report(r))
    assert md.startswith("| field | value |")
    assert "PARTIAL: interrupted" in md and "EMULATED: qemu-aarch64" in md and "ESTIMATED" in md


def test_cli_report_show(report, tmp_path):
    write_json_atomic(tmp_path / "r.json", report)
    p = subprocess.run([sys.executable, "-m", "edgefer", "report", "show", str(tmp_path / "r.json"), "--markdown"],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0 and "| p50 / p90 / p95 / p99 |" in p.stdout
    (tmp_path / "bad.json").write_text("{}")
    p = subprocess.run([sys.executable, "-m", "edgefer", "report", "show", str(tmp_path / "bad.json")],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 2 and p.stderr.startswith("error: invalid report") and "Traceback" not in p.stderr


def test_report_show_has_a_row_for_instruction_counts():
    """Emulated reports with --count-instructions: the counts are a row of the report table
    (bench's table and `report show`), not only a line after it."""
    from _synthetic_reports import repeat_samples, synthetic_report

    from edgefer.report.bench import summary_rows, validate_report

    rep = synthetic_report(repeat_samples(12.0, k=2), "emulated", emulated=True)
    rep["instructions"] = {"method": "qemu-tcg-plugin", "mode": "tb", "cpu_view": "cortex-a76", "n_inferences": 3,
                           "total": 64_700_000, "per_inference": 21_570_000.0, "per_inference_min": 21_569_990.0,
                           "per_inference_max": 21_570_010.0}
    rows = dict(summary_rows(validate_report(rep)))
    assert rows["instructions"].startswith("21,570,000 per inference, min..max 21,569,990..21,570,010 over 3")
    assert "cortex-a76 view" in rows["instructions"] and "not time" in rows["instructions"]
    plain = synthetic_report(repeat_samples(12.0, k=2), "native")
    assert "instructions" not in dict(summary_rows(validate_report(plain)))
