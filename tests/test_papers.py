"""edgefer/reproduce/papers.yaml (package data): schema, lookup, and that every quoted figure is really in its seed."""

import re
from pathlib import Path

import pytest

from edgefer.errors import EdgeferError
from edgefer.reproduce.papers import load_papers

SEEDS = Path("/work/shared/seeds")
ZOO_NAMES = {
    "mobilenetv3_large", "mobilenetv3_dka", "mobilenetv3_ca_dka", "mobilenet_v1", "mobilenet_skip",
    "mobilenet_skip_mha", "convnext_tiny", "ctan", "densenet121", "dcrnet", "vgg19", "vgg19_cbam",
    "resnet50", "resnet50_cbam", "inception_v3", "inception_v3_cbam",
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def papers():
    return load_papers()


def test_five_seed_papers_with_zoo_models(papers):
    assert [p.id[:3] for p in papers.papers] == ["000", "001", "002", "003", "004"]
    names = {m.zoo for p in papers.papers for m in p.models}
    assert names == ZOO_NAMES


def test_lookup_by_id_prefix_short_name_and_all(papers):
    assert papers.get("000_2f938d631e59cb84").short_name == "mobilenetv3-ca-dka"
    assert papers.get("003").short_name == "dcrnet"
    assert papers.get("mobilenet-mha").id.startswith("001")
    assert len(papers.select("all")) == 5
    with pytest.raises(EdgeferError) as exc:
        papers.get("dcrnett")
    assert "dcrnet" in exc.value.one_line()


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed texts not available")
def test_every_quote_and_value_is_in_its_seed(papers):
    for paper in papers.papers:
        sources = [(f.source, f) for m in paper.models for f in m.figures] + [(c.source, None) for c in paper.claims]
        for src, fig in sources:
            text = _norm((SEEDS / src.file).read_text(encoding="utf-8"))
            assert _norm(src.quote) in text, (paper.id, src.quote)
            if fig is not None:  # the printed number is in the quote itself (0.0300 prints as 0.03 with :g)
                assert f"{fig.value:g}" in src.quote or f"{fig.value:.4f}" in src.quote, (paper.id, fig)


def test_published_values_of_seed_000_and_003(papers):
    p0 = papers.get("000")
    lat = {m.zoo: m.figures_for("latency")[0].base_value() for m in p0.models}
    assert lat == {"mobilenetv3_large": 21.3, "mobilenetv3_dka": 19.6, "mobilenetv3_ca_dka": 18.7}
    claim = next(c for c in p0.claims if c.id == "000-ca-dka-faster")
    assert claim.direction == "lower" and abs(claim.expected_ratio - 18.7 / 21.3) < 1e-3
    dcr = papers.get("dcrnet").model("dcrnet")
    assert dcr.figures_for("flops")[0].base_value() == pytest.approx(4.2e9)
    assert sorted(f.base_value() for f in dcr.figures_for("latency")) == [21, 68]
    # 002 prints seconds; the loader converts to ms.
    assert papers.get("ctan").model("ctan").figures_for("latency")[0].base_value() == pytest.approx(30.0)


def test_papers_without_efficiency_figures_stay_empty(papers):
    for key in ("001", "004"):
        assert all(not m.figures for m in papers.get(key).models)


def test_bad_file_is_one_line_error(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("schema_version: 1\npapers:\n  - id: x\n")
    with pytest.raises(EdgeferError) as exc:
        load_papers(bad)
    assert "\n" not in exc.value.one_line()
    with pytest.raises(EdgeferError):
        load_papers(tmp_path / "missing.yaml")
