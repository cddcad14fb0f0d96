"""`edgefer report html`: a self-contained page, checked in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from _synthetic_reports import repeat_samples, synthetic_report

from edgefer.cli.main import run
from edgefer.html import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")


def _reports(tmp_path: Path) -> list[Path]:
    estimated = {"status": "estimated", "reason": "nominal power x time", "meter": None, "mean_power_w": 6.4,
                 "energy_per_inference_j": 0.064, "window_s": 1.0}
    a = synthetic_report(repeat_samples(10.0, seed=1), "<script>alert(1)</script>board A")
    b = synthetic_report(repeat_samples(13.0, seed=2), "emulated b", emulated=True, energy=estimated)
    paths = []
    for name, rep in (("a.json", a), ("b.json", b)):
        (tmp_path / name).write_text(json.dumps(rep))
        paths.append(tmp_path / name)
    return paths


def _browser(*args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="edgefer-chromium-")
    try:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                               "--no-first-run", "--disable-background-networking", "--disable-component-update",
                               "--disable-sync", f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_page_is_self_contained_labelled_and_escaped(tmp_path):
    page = render_html([str(p) for p in _reports(tmp_path)])
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page  # the label's markup is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;board A" in page
    assert "EMULATED" in page and "ESTIMATED" in page and "comparison (baseline:" in page
    assert page.count("data:image/png;base64,") >= 5  # CDF overlay, 2x (histogram/CDF + repeat spread)
    assert "http://" not in page and "https://" not in page  # nothing fetched


def test_cli_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{}")
    assert run(["report", "html", str(tmp_path / "x.json"), "-o", str(tmp_path / "r.html")]) == 2
    assert "not an edgefer report" in capsys.readouterr().err
    assert run(["report", "html", str(tmp_path / "missing.json")]) == 2
    assert not (tmp_path / "r.html").exists()


@pytest.mark.browser
@needs_browser
def test_real_browser_renders_the_page(tmp_path):
    out = tmp_path / "report.html"
    assert run(["report", "html", *map(str, _reports(tmp_path)), "-o", str(out)]) == 0
    dom = _browser("--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    assert "comparison (baseline:" in dom.stdout and "EMULATED" in dom.stdout and "repeats" in dom.stdout
    shot = tmp_path / "shot.png"
    res = _browser("--window-size=1280,1600", f"--screenshot={shot}", out.as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-500:]
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1600)
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 50  # rendered text, tables and plots, not a blank page
