"""edgefer compare on synthetic reports with known sample distributions (test inputs, not measurements)."""

import json

import numpy as np
import pytest

from edgefer.cli.cmd_compare import parse_threshold
from edgefer.cli.main import run
from edgefer.compare import compare_reports
from edgefer.errors import EdgeferError, GateFailed
from edgefer.runner.stats import summarize


def synthetic_report(samples_ms, label, *, emulated=False, threads=1, batch=1, ort="1.20.1", energy=None, size=1_000_000):
    ns = [int(round(x * 1e6)) for x in samples_ms]
    return {
        "schema_version": "1", "kind": "edgefer.bench.report", "created_utc": "2026-11-21T20:00:00Z",
        "edgefer_version": "0.1.0", "partial": False, "partial_reason": None,
        "artifact": {"path": f"/x/{label}.onnx", "file": f"{label}.onnx", "format": "onnx", "precision": "fp32",
                     "size_bytes": size, "sha256": "0" * 64},
        "model": {"name": "m", "params": 1, "macs": 1, "flops": 2}, "manifest": None,
        "target": {"name": "local", "board": None, "arch": "x86_64", "transport": "local"},
        "environment": {"hostname": "h", "machine": "aarch64" if emulated else "x86_64", "cpu_model": "cpu",
                        "cpu_flags": [], "cpu_count": 2, "kernel": "k", "os": "linux", "python": "3.11",
                        "numpy": "2", "runtime_versions": {"onnxruntime": ort}, "governor": None,
                        "temperatures_before": {}, "temperatures_after": {}, "throttling": None,
                        "emulated": emulated, "emulator": "qemu-aarch64 (cortex-a72)" if emulated else None},
        "runtime": {"name": "onnxruntime", "version": ort, "threads": threads, "providers": ["CPUExecutionProvider"],
                    "delegates": None, "inputs": [], "outputs": []},
        "settings": {"runs": len(ns), "warmup": 5, "min_seconds": 0, "batch_size": batch, "threads": threads,
                     "cpus": None, "cooldown_s": 0, "energy": "none"},
        "timing": {"load_ms": 1.0, "first_inference_ms": 2.0, "samples_ns": ns},
        "statistics": summarize(ns, batch), "resources": {"peak_rss_mb": 100.0, "cpu_utilization_pct": None},
        "energy": energy or {"status": "unavailable", "reason": "no sensor on this target", "meter": None},
        "accuracy": None, "label": label,
    }


RNG = np.random.default_rng(0)
BASE = RNG.lognormal(np.log(10.0), 0.05, 300)


def _metric(cmp, label, key):
    return next(m for m in cmp.metrics[label] if m.metric == key)


def test_twenty_percent_slower_is_significant_and_fails_gate():
    a = synthetic_report(BASE, "a")
    b = synthetic_report(BASE * 1.2, "b")
    cmp = compare_reports([a, b], threshold=0.05)
    p50 = _metric(cmp, "b", "p50_ms")
    assert p50.ratio == pytest.approx(1.2, rel=1e-3)
    assert p50.ci_low > 1.1 and p50.ci_high < 1.3 and p50.ci_low <= p50.ratio <= p50.ci_high
    assert p50.p_value < 1e-10 and p50.verdict == "slower" and p50.worse
    tp = _metric(cmp, "b", "throughput_sps")
    assert tp.ratio == pytest.approx(1 / 1.2, rel=1e-3) and tp.verdict == "worse"
    assert any("latency p50" in r for r in cmp.regressions)
    with pytest.raises(GateFailed):
        cmp.check_gate()
    # the other way round it is faster, and no gate trips
    rev = compare_reports([a, b], baseline="b", threshold=0.05)
    assert _metric(rev, "a", "p50_ms").verdict == "faster" and not rev.regressions
    rev.check_gate()


def test_joint_percentile_bootstrap_matches_one_bootstrap_per_percentile():
    from edgefer.compare import _bootstrap_ratio, per_sample_ms

    a, b = synthetic_report(BASE, "a"), synthetic_report(BASE * 1.2, "b")
    cmp = compare_reports([a, b])
    xa, xb = per_sample_ms(a), per_sample_ms(b)
    for key, q in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99)):
        lo, hi = _bootstrap_ratio(xa, xb, lambda x, axis, q=q: np.percentile(x, q, axis=axis))
        m = _metric(cmp, "b", key)
        assert type(m.ci_low) is float and type(m.ci_high) is float
        assert (m.ci_low, m.ci_high) == (float(lo), float(hi))


def test_same_distribution_is_no_significant_change():
    a = synthetic_report(BASE, "a")
    b = synthetic_report(RNG.permutation(BASE), "b")  # same values, other order
    cmp = compare_reports([a, b], threshold=0.05)
    p50 = _metric(cmp, "b", "p50_ms")
    assert p50.ratio == pytest.approx(1.0)
    assert p50.ci_low <= 1 <= p50.ci_high and p50.p_value > 0.5
    assert p50.verdict == "no significant change" and not cmp.regressions
    cmp.check_gate()


def test_small_regression_below_threshold_does_not_fail():
    cmp = compare_reports([synthetic_report(BASE, "a"), synthetic_report(BASE * 1.03, "b")], threshold=0.05)
    assert _metric(cmp, "b", "p50_ms").verdict == "slower"  # significant, but 3% < 5%
    assert not any("latency" in r for r in cmp.regressions)


def test_environment_differences_warn():
    a = synthetic_report(BASE, "native")
    b = synthetic_report(BASE, "emu", emulated=True, threads=4, batch=2, ort="1.19.0")
    cmp = compare_reports([a, b])
    text = " | ".join(cmp.warnings)
    assert "emulated" in text and "native" in text
    for what in ("threads", "batch size", "runtime version", "machine"):
        assert what in text, what
    # batch 2: per-sample latency is half the per-batch time
    assert cmp.reports[1].values["p50_ms"] == pytest.approx(cmp.reports[0].values["p50_ms"] / 2)


def test_energy_and_size():
    e = lambda j, u: {"status": "measured", "reason": None, "meter": "rapl", "energy_per_inference_j": j, "uncertainty_j": u}  # noqa: E731
    a = synthetic_report(BASE, "a", energy=e(0.10, 0.001), size=1_000_000)
    b = synthetic_report(BASE, "b", energy=e(0.15, 0.001), size=2_000_000)
    c = synthetic_report(BASE, "c")  # no sensor
    cmp = compare_reports([a, b, c])
    assert _metric(cmp, "b", "energy_j").verdict == "higher"
    assert _metric(cmp, "b", "size_mb").ratio == pytest.approx(2.0)
    assert "no sensor" in _metric(cmp, "c", "energy_j").verdict


def test_user_errors(tmp_path):
    a = synthetic_report(BASE, "a")
    with pytest.raises(EdgeferError):
        compare_reports([a])
    with pytest.raises(EdgeferError, match="not one of"):
        compare_reports([a, a], baseline="zzz")
    with pytest.raises(EdgeferError, match="not found"):
        compare_reports([a, tmp_path / "nope.json"])
    assert parse_threshold("5%") == pytest.approx(0.05) and parse_threshold("0.05") == 0.05
    with pytest.raises(EdgeferError):
        parse_threshold("5")


def test_cli_markdown_plot_json_and_exit_codes(tmp_path, capsys):
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(synthetic_report(BASE, "a")))
    pb.write_text(json.dumps(synthetic_report(BASE * 1.2, "b")))
    png, js = tmp_path / "cmp.png", tmp_path / "cmp.json"
    assert run(["compare", str(pa), str(pb), "--markdown", "--plot", str(png), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| metric | a (baseline) | b |") and "slower" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(js.read_text())["baseline"] == "a"
    assert run(["compare", str(pa), str(pb), "--fail-on-regression", "5%"]) == 1
    assert "regression" in capsys.readouterr().err
    assert run(["compare", str(pa), str(pb), "--baseline", str(pb), "--fail-on-regression", "5%"]) == 0
