"""The HTML report's plots, rendered to PNG bytes (matplotlib, Agg; embedded as data: URIs)."""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any, Callable, Sequence

import numpy as np


def _plt():
    from edgefer.report.plots import _pyplot

    return _pyplot()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return buf.getvalue()


def latency_distribution(groups: Sequence[np.ndarray], title: str) -> bytes:
    """Left: histogram of per-sample latency (all repeats). Right: the CDF of each repeat."""
    plt = _plt()
    fig, (ax_h, ax_c) = plt.subplots(1, 2, figsize=(11, 3.6))
    allms = np.concatenate(groups)
    hi = np.percentile(allms, 99.5)
    ax_h.hist(allms[allms <= hi], bins=60, color="#3b6ea5")
    ax_h.set_xlabel("latency per sample [ms] (up to p99.5)")
    ax_h.set_ylabel("runs")
    ax_h.set_title(f"{title}: histogram, n={allms.size}")
    for i, g in enumerate(groups):
        x = np.sort(g)
        ax_c.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=f"repeat {i + 1}", alpha=0.8)
    ax_c.set_xscale("log")
    ax_c.set_xlabel("latency per sample [ms], log scale")
    ax_c.set_ylabel("fraction of runs")
    ax_c.set_title("CDF per repeat")
    if len(groups) <= 12:
        ax_c.legend(fontsize=7)
    for ax in (ax_h, ax_c):
        ax.grid(alpha=0.3)
    return _png(fig)


def repeat_spread(groups: Sequence[np.ndarray], title: str) -> bytes:
    """Per-repeat spread: a box per repeat and each repeat's p50 — the between-run variance."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 3.2))
    ax.boxplot([np.asarray(g) for g in groups], showfliers=False)
    p50 = [float(np.median(g)) for g in groups]
    ax.plot(range(1, len(groups) + 1), p50, "o-", color="#c0392b", label="p50 of each repeat")
    ax.set_xlabel("repeat (one runner process each)")
    ax.set_ylabel("latency per sample [ms]")
    ax.set_title(f"{title}: spread within and between repeats")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def cdf_overlay(series: dict[str, np.ndarray]) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for label, ms in series.items():
        x = np.sort(np.asarray(ms))
        ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=f"{label} (n={x.size})")
    ax.set_xscale("log")
    ax.set_xlabel("latency per sample [ms], log scale")
    ax.set_ylabel("fraction of runs")
    ax.set_title("latency CDF")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def via_file(render: Callable[[str], Any]) -> bytes | None:
    """A plot function of the project that writes a PNG file, captured as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "plot.png")
        render(path)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()
