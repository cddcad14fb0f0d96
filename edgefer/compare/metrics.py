"""The rows of a bench comparison: what one metric of one report says against the baseline.

Shared by edgefer.compare.reports (latency, throughput, memory, energy, size) and
edgefer.compare.instructions (exact instruction counts), which import this module and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgefer.compare.gate import excess


@dataclass
class MetricComparison:
    """One metric of one report against the baseline."""

    metric: str
    unit: str
    baseline: float | None
    value: float | None
    ratio: float | None  # value / baseline
    ci_low: float | None = None  # confidence interval of the ratio
    ci_high: float | None = None
    p_value: float | None = None
    verdict: str = "n/a"  # faster/slower, better/worse, lower/higher, no significant change, n/a (why)
    worse: bool = False  # significantly worse than the baseline
    note: str | None = None
    method: str | None = None  # how the interval was made: "repeats" or "within-run only (...)"
    undecided: bool = False  # no verdict possible (too few repeats or samples)


@dataclass
class ReportSummary:
    label: str
    path: str | None
    model: str | None
    artifact: str | None  # "onnx fp32"
    emulated: bool | None
    batch_size: int
    n_samples: int
    values: dict[str, float | None]  # metric -> value (see METRICS)
    energy_status: str | None
    energy_reason: str | None
    repeats: int = 1


# metric key -> (display name, unit, lower is better, digits)
METRICS: dict[str, tuple[str, str, bool, int]] = {
    "p50_ms": ("latency p50 /sample", "ms", True, 3),
    "p90_ms": ("latency p90 /sample", "ms", True, 3),
    "p99_ms": ("latency p99 /sample", "ms", True, 3),
    "throughput_sps": ("throughput", "samples/s", False, 1),
    "peak_rss_mb": ("peak RSS", "MB", True, 1),
    "energy_j": ("energy /inference", "J", True, 4),
    "size_mb": ("artifact size", "MB", True, 3),
    "instructions": ("instructions /inference", "insn", True, 0),  # emulated board only (.instructions)
}


def format_p(p: float) -> str:
    """A p-value for humans: scipy returns exactly 0 when it underflows double precision."""
    return "p<1e-300" if p == 0 else f"p={p:.2g}"


def regression_excess(m: MetricComparison) -> float | None:
    """How much worse than the baseline the metric is *at least*, as a fraction (the gate's rule:
    edgefer.compare.gate.excess); exact metrics use their ratio."""
    return excess(m.ratio, m.ci_low, m.ci_high, lower_is_better=METRICS[m.metric][2])
