"""edgefer compare on synthetic reports with known distributions: repeats, hierarchical intervals, the gate."""

import json

import numpy as np
import pytest
from _synthetic_reports import repeat_samples, synthetic_report

from edgefer.cli.cmd_compare import parse_threshold
from edgefer.cli.main import run
from edgefer.compare.reports import compare_reports
from edgefer.errors import EdgeferError, GateFailed
from edgefer.runner.hierarchical import bootstrap, interval


def _metric(cmp, label, key):
    return next(m for m in cmp.metrics[label] if m.metric == key)


def test_thirty_percent_slower_is_significant_and_fails_gate():
    a = synthetic_report(repeat_samples(10.0, seed=1), "a")
    b = synthetic_report(repeat_samples(13.0, seed=2), "b")
    cmp = compare_reports([a, b], threshold=0.05)
    p50 = _metric(cmp, "b", "p50_ms")
    assert p50.ratio == pytest.approx(1.3, rel=0.05)
    assert 1.05 < p50.ci_low <= p50.ratio <= p50.ci_high < 1.6 and p50.method == "repeats"
    assert p50.verdict == "slower" and p50.worse and p50.p_value < 0.05
    assert _metric(cmp, "b", "throughput_sps").verdict == "worse"
    assert any("latency p50" in r and "at least" in r for r in cmp.regressions)
    with pytest.raises(GateFailed):
        cmp.check_gate()
    rev = compare_reports([a, b], baseline="b", threshold=0.05)
    assert _metric(rev, "a", "p50_ms").verdict == "faster" and not rev.regressions
    rev.check_gate()


def test_between_run_variance_is_in_the_interval():
    # 5 repeats whose levels scatter by 10%, 2000 tight samples each: the interval of the mean p50
    # must be about as wide as the between-repeat spread says (1.96 x 10% / sqrt(5) ~ +-8.8%),
    # not as narrow as 10,000 pooled samples would make it.
    groups = repeat_samples(10.0, k=5, n=2000, between_cv=0.10, within_sd=0.01, seed=3)
    lo, hi = interval(bootstrap(groups, ["p50"]))
    rel_half = (hi[0] - lo[0]) / 2 / np.mean([np.median(g) for g in groups])
    assert 0.04 < rel_half < 0.15
    lo_w, hi_w = interval(bootstrap(groups, ["p50"], within_only=True))
    assert (hi_w[0] - lo_w[0]) < (hi[0] - lo[0]) / 10  # the within-run interval ignores it


def test_aa_same_process_is_no_significant_change_and_passes_gate():
    # two benches of the same thing: different repeats, same generating process
    alarms = 0
    for seed in range(20):
        a = synthetic_report(repeat_samples(10.0, between_cv=0.05, seed=100 + seed), "a")
        b = synthetic_report(repeat_samples(10.0, between_cv=0.05, seed=200 + seed), "b")
        cmp = compare_reports([a, b], threshold=0.05)
        alarms += bool(cmp.regressions)
    assert alarms <= 1


def test_gate_needs_the_lower_bound_beyond_the_threshold():
    for ratio in (1.0, 1.03, 1.06, 1.1, 1.3):
        a = synthetic_report(repeat_samples(10.0, between_cv=0.04, seed=7), "a")
        b = synthetic_report(repeat_samples(10.0 * ratio, between_cv=0.04, seed=8), "b")
        cmp = compare_reports([a, b], threshold=0.05)
        p50 = _metric(cmp, "b", "p50_ms")
        failed = any("latency p50" in r for r in cmp.regressions)
        assert failed == (p50.ci_low - 1 > 0.05), (ratio, p50)
    assert failed  # 1.3x is flagged


def test_one_repeat_gets_no_latency_verdict_and_the_gate_says_so():
    a = synthetic_report(repeat_samples(10.0, k=1, seed=1), "a")
    b = synthetic_report(repeat_samples(12.0, k=1, seed=2), "b")
    cmp = compare_reports([a, b], threshold=0.05)
    p50 = _metric(cmp, "b", "p50_ms")
    assert p50.undecided and "between-run variance unknown" in p50.verdict and p50.ci_low is None
    assert any("1 repeat" in w for w in cmp.warnings)
    with pytest.raises(EdgeferError, match="not enough repeats to judge") as exc:
        cmp.check_gate()
    assert not isinstance(exc.value, GateFailed) and exc.value.exit_code == 2
    within = compare_reports([a, b], threshold=0.05, within_run=True)
    m = _metric(within, "b", "p50_ms")
    assert m.verdict == "slower" and m.method.startswith("within-run")
    with pytest.raises(GateFailed):
        within.check_gate()


def test_schema_1_reports_load_without_between_run_estimate(tmp_path):
    from edgefer.report.bench import load_report

    old = synthetic_report(repeat_samples(10.0, k=1, seed=1), "old", schema="1")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    rep = load_report(path)
    assert rep.schema_version == "1" and rep.repeats is None and not rep.has_between_run_estimate
    cmp = compare_reports([path, synthetic_report(repeat_samples(10.0, seed=2), "new")], threshold=0.05)
    with pytest.raises(EdgeferError, match="not enough repeats"):
        cmp.check_gate()


def test_environment_and_workload_differences_warn():
    a = synthetic_report(repeat_samples(10.0, seed=1), "native")
    b = synthetic_report(repeat_samples(10.0, seed=1), "emu", emulated=True, threads=4, batch=2, ort="1.19.0",
                         model="other")
    cmp = compare_reports([a, b])
    text = " | ".join(cmp.warnings)
    assert "emulated" in text and "native" in text and "different models" in text
    for what in ("threads", "batch size", "runtime version", "machine"):
        assert what in text, what
    # batch 2: per-sample latency is half the per-batch time
    assert cmp.reports[1].values["p50_ms"] == pytest.approx(cmp.reports[0].values["p50_ms"] / 2)


def test_energy_and_size():
    e = lambda j, u: {"status": "measured", "reason": None, "meter": "rapl", "energy_per_inference_j": j, "uncertainty_j": u}  # noqa: E731
    g = repeat_samples(10.0, seed=1)
    a = synthetic_report(g, "a", energy=e(0.10, 0.001), size=1_000_000)
    b = synthetic_report(g, "b", energy=e(0.15, 0.001), size=2_000_000)
    c = synthetic_report(g, "c")  # no sensor
    cmp = compare_reports([a, b, c])
    assert _metric(cmp, "b", "energy_j").verdict == "higher"
    assert _metric(cmp, "b", "size_mb").ratio == pytest.approx(2.0)
    assert "no sensor" in _metric(cmp, "c", "energy_j").verdict
    # five repeats of 0.10 J each with 0.001 J meter uncertainty: the mean keeps both parts
    assert a["energy"]["energy_per_inference_j"] == pytest.approx(0.10)
    assert 0 < a["energy"]["uncertainty_j"] < 0.001


def test_user_errors(tmp_path):
    a = synthetic_report(repeat_samples(10.0), "a")
    with pytest.raises(EdgeferError):
        compare_reports([a])
    with pytest.raises(EdgeferError, match="not one of"):
        compare_reports([a, a], baseline="zzz")
    with pytest.raises(EdgeferError, match="not found"):
        compare_reports([a, tmp_path / "nope.json"])
    assert parse_threshold("5%") == pytest.approx(0.05) and parse_threshold("0.05") == 0.05
    for bad in ("5", "abc", "-1%", "nan", "inf%"):
        with pytest.raises(EdgeferError):
            parse_threshold(bad)


def test_cli_markdown_plot_json_and_exit_codes(tmp_path, capsys):
    pa, pb, p1 = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "one.json"
    pa.write_text(json.dumps(synthetic_report(repeat_samples(10.0, seed=1), "a")))
    pb.write_text(json.dumps(synthetic_report(repeat_samples(13.0, seed=2), "b")))
    p1.write_text(json.dumps(synthetic_report(repeat_samples(13.0, k=1, seed=2), "one")))
    png, js = tmp_path / "cmp.png", tmp_path / "cmp.json"
    assert run(["compare", str(pa), str(pb), "--markdown", "--plot", str(png), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| metric | a (baseline) | b |") and "slower" in out and "two-level bootstrap" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(js.read_text())["baseline"] == "a"
    assert run(["compare", str(pa), str(pb), "--fail-on-regression", "5%"]) == 1
    assert "regression" in capsys.readouterr().err
    assert run(["compare", str(pa), str(pb), "--baseline", str(pb), "--fail-on-regression", "5%"]) == 0
    assert run(["compare", str(pa), str(p1), "--fail-on-regression", "5%"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: not enough repeats to judge latency")
    assert run(["compare", str(pa), str(p1), "--fail-on-regression", "5%", "--within-run"]) == 1


def test_one_gate_rule_judges_at_the_intervals_favourable_end():
    from edgefer.compare.gate import Gated, check_threshold, excess

    assert excess(1.3, 1.08, 1.6) == pytest.approx(0.08)  # slower: judged on the interval's low end
    assert excess(0.8, 0.6, 0.95, lower_is_better=False) == pytest.approx(0.05)  # throughput: its high end
    assert excess(1.25) == pytest.approx(0.25) and excess(None) is None  # an exact count: its ratio

    class Gate(Gated):
        UNDECIDED = ("cannot judge", "repeat it")

        def __init__(self, threshold):
            self.threshold, self.regressions, self.undecided = threshold, [], []

    gate = Gate(0.05)
    assert gate.regressed(0.06) and not gate.regressed(0.05) and not gate.regressed(None)
    assert not Gate(None).regressed(1.0)
    gate.undecided.append("b vs a")
    with pytest.raises(EdgeferError, match="cannot judge: b vs a") as exc:
        gate.check_gate()
    assert exc.value.exit_code == 2
    gate.regressions.append("b slower")
    with pytest.raises(GateFailed, match=r"regression beyond 5.0%: b slower"):
        gate.check_gate()
    for bad in (-0.1, 10.0):
        with pytest.raises(EdgeferError, match="--fail-on-regression"):
            check_threshold(bad)


def test_compare_modules_import_no_cycle():
    """edgefer.compare's modules import one another as a tree (lazy imports too): no cycle."""
    import ast
    from pathlib import Path

    import edgefer.compare

    here = Path(edgefer.compare.__file__).parent
    graph = {}
    for f in here.glob("*.py"):
        names = {n.module for n in ast.walk(ast.parse(f.read_text())) if isinstance(n, ast.ImportFrom) and n.module}
        graph[f.stem] = {m.rsplit(".", 1)[1] for m in names if m.startswith("edgefer.compare.")}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    assert graph["instructions"] and all(not reaches(m, m) for m in graph), graph
