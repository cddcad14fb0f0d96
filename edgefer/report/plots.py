"""Charts for compare and reproduce (matplotlib, an optional extra; Agg backend, no display).

Every chart is written atomically: rendered to a temp file beside the target, then renamed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.files import write_atomic

if TYPE_CHECKING:
    from edgefer.compare.reports import Comparison


def _pyplot():
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise EdgeferError("plots need matplotlib", hint="pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: str) -> str:
    out = os.path.abspath(out)
    write_atomic(out, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png"))
    return out


def plot_comparison(cmp: "Comparison", out: str) -> str:
    """Left: empirical CDF of per-sample latency per report. Right: p50/p90/p99 bars."""
    plt = _pyplot()
    fig, (ax_cdf, ax_bar) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, ms in cmp.samples_ms.items():
        x = np.sort(np.asarray(ms))
        ax_cdf.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=f"{label} (n={x.size})")
    ax_cdf.set_xscale("log")  # latency tails are long: a linear axis squeezes the body into one pixel column
    ax_cdf.set_xlabel("latency per sample [ms], log scale")
    ax_cdf.set_ylabel("fraction of runs")
    ax_cdf.set_title("latency CDF")
    ax_cdf.grid(alpha=0.3)
    ax_cdf.legend(fontsize=8)

    keys = ("p50_ms", "p90_ms", "p99_ms")
    width = 0.8 / len(cmp.reports)
    for i, r in enumerate(cmp.reports):
        xs = np.arange(len(keys)) + i * width
        ax_bar.bar(xs, [r.values[k] for k in keys], width, label=r.label)
    ax_bar.set_xticks(np.arange(len(keys)) + width * (len(cmp.reports) - 1) / 2)
    ax_bar.set_xticklabels(["p50", "p90", "p99"])
    ax_bar.set_ylabel("latency per sample [ms]")
    ax_bar.set_title(f"percentiles (baseline: {cmp.baseline})")
    ax_bar.grid(axis="y", alpha=0.3)
    ax_bar.legend(fontsize=8)
    try:
        return _save(fig, out)
    finally:
        plt.close(fig)


def plot_latency_vs_flops(points: list[dict], out: str, title: str, xlabel: str = "MFLOPs") -> str:
    """One point per (model, format/precision): x = MFLOPs as the paper counts, y = ms/sample p50.

    points: [{"label": str, "series": str, "mflops": float, "ms": float}], series = "onnx fp32" etc.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    series = sorted({p["series"] for p in points})
    markers = "os^Dv<>P*X"
    for si, s in enumerate(series):
        pts = [p for p in points if p["series"] == s]
        ax.scatter([p["mflops"] for p in pts], [p["ms"] for p in pts], marker=markers[si % len(markers)], label=s)
        for p in pts:
            ax.annotate(p["label"], (p["mflops"], p["ms"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    # log axes only when the points span more than a decade: otherwise they just hide the ticks
    for values, set_scale in (([p["mflops"] for p in points], ax.set_xscale), ([p["ms"] for p in points], ax.set_yscale)):
        if values and max(values) > 10 * min(values):
            set_scale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("ms / sample (p50, measured)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if series:
        ax.legend(fontsize=8)
    try:
        return _save(fig, out)
    finally:
        plt.close(fig)
