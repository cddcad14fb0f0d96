"""edgefer reproduce, end to end on the local target: seed 001 (three 48x48 grayscale MobileNets),
ONNX fp32 only, 1 thread, few runs. Real conversions and real (short) measurements."""

import json
import math

import pytest

from edgefer.errors import EdgeferError
from edgefer.reproduce import flops_convention, outcome, reproduce
from edgefer.reproduce.papers import load_papers
from edgefer.runner.settings import BenchSettings

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow  # converts three models: ~30 s of CPU


@pytest.fixture(scope="module")
def run001(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep001")
    kw = dict(settings=BenchSettings(runs=5, warmup=1, min_seconds=0.0, threads=1, energy="none"),
              target="local", formats=("onnx",), precisions=("fp32",), out=out)
    first = reproduce("mobilenet-mha", **kw)
    second = reproduce("001", **kw)  # same settings and artifacts: everything from the cache
    return out, first, second


def test_every_model_row_with_finite_measurements(run001):
    out, res, _ = run001
    (paper,) = res.papers
    expected = [m.zoo for m in load_papers().get("001").models]
    assert [r.model for r in paper.rows] == expected
    for r in paper.rows:
        assert r.error is None, r.error
        assert (r.format, r.precision) == ("onnx", "fp32")
        for v in (r.params, r.macs, r.size_bytes, r.p50_ms, r.p90_ms, r.throughput_sps):
            assert v is not None and math.isfinite(v) and v > 0
        assert r.p90_ms >= r.p50_ms and r.n_samples >= 5
        assert r.published == {}  # seed 001 prints no efficiency figure
        assert r.energy_j is None and r.energy_status == "unavailable"  # --energy none: never a made-up number
    # params/MACs are the profiler's, not constants: MHA adds both
    by = {r.model: r for r in paper.rows}
    assert by["mobilenet_skip_mha"].params > by["mobilenet_skip"].params > by["mobilenet_v1"].params


def test_outputs_written(run001):
    out, res, _ = run001
    data = json.loads((out / "results.json").read_text())
    assert data["kind"] == "edgefer.reproduce" and "untrained" in data["note"]
    rows = data["papers"][0]["rows"]
    assert len(rows) == 3 and all(math.isfinite(r["p50_ms"]) for r in rows)
    md = (out / "table.md").read_text()
    for model in ("mobilenet_v1", "mobilenet_skip", "mobilenet_skip_mha"):
        assert f"| {model} | onnx fp32 |" in md
    assert "untrained" in md and "no FLOPs figure" in md
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"
    for r in rows:  # each row keeps its bench report
        rep = json.loads((out / r["report"]).read_text())
        assert rep["kind"] == "edgefer.bench.report" and rep["artifact"]["sha256"] == r["sha256"]


def test_second_run_is_resumed_from_cache(run001):
    _, first, second = run001
    a, b = first.papers[0].rows, second.papers[0].rows
    assert not any(r.cached for r in a) and all(r.cached for r in b)
    assert [r.p50_ms for r in a] == [r.p50_ms for r in b]


def test_published_column_and_claims_with_synthetic_measurements():
    # ratios and claim logic on seed 000's published figures; the inputs here are made up
    from edgefer.reproduce import PaperResult, Row, attach_published, paper_table

    paper = load_papers().get("000")
    pm = paper.model("mobilenetv3_large")
    row = Row("x", pm.zoo, pm.label, pm.role, "onnx", "fp32", params=3_095_991, macs=220_404_816,
              flops=440_809_632, p50_ms=10.65, mean_ms=10.65, input_shape=[1, 3, 224, 224])
    assert flops_convention(219e6, row.macs, row.flops) == "MACs"
    attach_published(row, pm, "MACs")
    assert row.published["latency"][0]["ratio"] == pytest.approx(0.5)  # the paper's mean vs our mean
    assert row.published["latency"][0]["ours_statistic"] == "mean"
    assert row.published["flops"][0]["ratio"] == pytest.approx(220.404816 / 219)
    assert "Tab. 3" in row.published["params"][0]["source"]
    head, body = paper_table(PaperResult(paper.id, paper.short_name, paper.title, "", "MACs", True, [row], []))
    assert "paper ms" in head and "paper MFLOPs" in head and "paper FPS" not in head
    assert outcome("lower", 0.88, significant=True) == "holds"
    assert outcome("lower", 1.10, significant=True) == "contradicted"
    assert outcome("lower", 0.99, significant=False).startswith("not confirmed")
    assert outcome("not_higher", 1.05, significant=False) == "holds"


def test_claim_verdicts_from_an_emulated_board_are_labelled_and_p_underflow_is_readable():
    from edgefer.reproduce import ClaimCheck, claim_line

    kw = dict(id="c", statement="faster", source="seed, Tab. 3", metric="latency", subject="a", reference="b",
              direction="lower", expected_ratio=0.88, series="onnx fp32", measured_ratio=1.5, ci_low=1.4,
              ci_high=1.6, p_value=0.0, outcome="contradicted")
    native, emulated = claim_line(ClaimCheck(**kw)), claim_line(ClaimCheck(**kw, emulated=True))
    assert "EMULATED" not in native and "p<1e-300" in native and "p=0" not in native
    assert "**contradicted** on the EMULATED board: says nothing about real hardware" in emulated


def test_unknown_paper_and_bad_options(tmp_path):
    with pytest.raises(EdgeferError, match="unknown paper"):
        reproduce("nope", out=tmp_path)
    with pytest.raises(EdgeferError, match="--formats"):
        reproduce("001", formats=("pt",), out=tmp_path)


def test_cli_resumes_and_prints_every_row(run001, capsys):
    from edgefer.cli.main import run

    out, _, _ = run001
    rc = run(["reproduce", "001", "--formats", "onnx", "--precisions", "fp32", "--out", str(out), "--runs", "5",
              "--warmup", "1", "--min-seconds", "0", "--threads", "1", "--energy", "none"])
    assert rc == 0
    text = capsys.readouterr().out
    for model in ("mobilenet_v1", "mobilenet_skip", "mobilenet_skip_mha"):
        assert model in text
    assert "(cached)" in text and "untrained" in text
    assert run(["reproduce", "nope", "--out", str(out)]) == 2


def test_a_failing_model_is_reported_in_its_row_and_the_rest_go_on(run001, tmp_path):
    out, _, _ = run001  # mobilenet_v1 is already converted and measured there: only the failure is new
    papers = tmp_path / "papers.yaml"
    papers.write_text(
        "schema_version: 1\npapers:\n"
        "  - {id: 999_test, short_name: broken, title: t, models: ["
        "{zoo: not_a_model, label: X, role: baseline}, {zoo: mobilenet_v1, label: M, role: proposed}]}\n"
    )
    res = reproduce("broken", target="local", formats=("onnx",), precisions=("fp32",), out=out,
                    settings=BenchSettings(runs=5, warmup=1, min_seconds=0.0, threads=1, energy="none"),
                    papers_path=papers, plot=False)
    bad, good = res.papers[0].rows
    assert bad.model == "not_a_model" and "unknown model" in bad.error and bad.p50_ms is None
    assert good.error is None and good.cached and math.isfinite(good.p50_ms)
    assert "error: unknown model" in (out / "table.md").read_text()


def test_a_conversion_is_reused_only_with_the_same_calibration_data(tmp_path, monkeypatch):
    # stale int8 artifacts calibrated on other data must not be reused: the manifest records --calib
    import edgefer.convert
    from edgefer.reproduce import Settings
    from edgefer.reproduce.measuring import convert_dir

    d = tmp_path / "artifacts" / "mobilenet_v1"
    d.mkdir(parents=True)
    (d / "m_int8.onnx").write_bytes(b"x")
    manifest = {"settings": {"formats": ["onnx"], "precisions": ["int8"], "target": "local", "calib": "a.npy"},
                "calibration": {"source": "a.npy"}, "artifacts": [{"file": "m_int8.onnx"}]}
    (d / "manifest.json").write_text(json.dumps(manifest))
    calls = []

    class Converted:
        manifest = {"new": True}

    monkeypatch.setattr(edgefer.convert, "convert", lambda opts, **kw: calls.append(opts.calib) or Converted())
    step = lambda desc: None  # noqa: E731
    same = Settings(formats=("onnx",), precisions=("int8",), calib_data="a.npy")
    assert convert_dir(tmp_path, "mobilenet_v1", same, step) == manifest and calls == []
    other = Settings(formats=("onnx",), precisions=("int8",), calib_data="b.npy")
    assert convert_dir(tmp_path, "mobilenet_v1", other, step) == {"new": True} and calls == ["b.npy"]
    assert convert_dir(tmp_path, "mobilenet_v1", Settings(formats=("onnx",), precisions=("int8",)), step) == {"new": True}
    (d / "manifest.json").write_text("{ truncated")  # a broken manifest is converted again, not an error
    assert convert_dir(tmp_path, "mobilenet_v1", same, step) == {"new": True}


def test_pytorch_eager_rows_beside_the_deployed_formats(run001, tmp_path):
    # seed 000 timed its models in PyTorch: --formats torch adds eager fp32 rows (host only)
    out, _, _ = run001  # reuses the ONNX conversions and reports there; torch rows are new
    papers = tmp_path / "papers.yaml"
    papers.write_text("schema_version: 1\npapers:\n"
                      "  - {id: 998_test, short_name: eager, title: t,\n"
                      "     models: [{zoo: mobilenet_v1, label: M, role: proposed}]}\n")
    res = reproduce("eager", target="local", formats=("torch", "onnx"), precisions=("fp32", "int8"), out=out,
                    settings=BenchSettings(runs=5, warmup=1, min_seconds=0.0, threads=1, energy="none"),
                    papers_path=papers, plot=False)
    rows = {(r.format, r.precision): r for r in res.papers[0].rows}
    assert ("torch", "int8") not in rows  # eager is fp32 only
    torch_row = rows[("torch", "fp32")]
    assert torch_row.error is None and torch_row.p50_ms > 0 and torch_row.size_bytes is None
    rep = json.loads((out / torch_row.report).read_text())
    assert rep["artifact"]["format"] == "torch" and rep["runtime"]["name"] == "torch"
    assert rep["model"]["params"] == torch_row.params == rows[("onnx", "fp32")].params
    assert "| mobilenet_v1 | torch fp32 |" in (out / "table.md").read_text()
    # not on a board: PyTorch eager is a host-side reference
    qemu = reproduce("eager", target="qemu-aarch64", formats=("torch",), precisions=("fp32",), out=tmp_path / "q",
                     settings=BenchSettings(runs=5, warmup=1, min_seconds=0.0, energy="none"),
                     papers_path=papers, plot=False)
    assert "host-only reference" in qemu.papers[0].rows[0].error
