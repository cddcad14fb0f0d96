"""The one regression gate of `edgefer compare`, for bench reports, instruction counts and pipeline stages.

- the threshold: `--fail-on-regression 5%` or `0.05` (a bare number above 1 is ambiguous: refused);
- a metric regresses when it is worse than the baseline by more than the threshold even at its
  interval's favourable end (significantly worse *by more than* T: a noisy run does not trip it);
  an exact metric (a count, a size: no interval) by its ratio;
- the verdict: GateFailed (exit 1) listing the regressions; a gated metric that could not be judged
  (one repeat: no between-run variance) is an EdgeferError (exit 2): a gate must not pass silently.
"""

from __future__ import annotations

import math
from typing import ClassVar

from edgefer.errors import EdgeferError, GateFailed

MAX_THRESHOLD = 10.0  # 1000%: beyond it a threshold is a typo, not a gate


def parse_threshold(text: str) -> float:
    """'5%' -> 0.05, '0.05' -> 0.05; a bare number above 1 is ambiguous and refused."""
    t, option = text.strip(), "--fail-on-regression"
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise EdgeferError(f"{option} {text!r} is not a percentage", hint="e.g. 5% or 0.05") from None
    if not math.isfinite(value):
        raise EdgeferError(f"{option} {text!r} is not a finite percentage", hint="e.g. 5% or 0.05")
    if not t.endswith("%") and value > 1:
        raise EdgeferError(f"{option} {text!r} is ambiguous", hint=f"write {t}% or {value / 100:g}")
    if value < 0:
        raise EdgeferError(f"{option} must not be negative, got {text!r}")
    return value


def check_threshold(threshold: float | None) -> None:
    """A threshold given as a number (library callers): a fraction from 0 up to MAX_THRESHOLD."""
    if threshold is not None and not 0 <= threshold < MAX_THRESHOLD:
        raise EdgeferError(f"--fail-on-regression must be a fraction like 5% or 0.05, got {threshold}")


def excess(ratio: float | None, ci_low: float | None = None, ci_high: float | None = None,
           lower_is_better: bool = True) -> float | None:
    """How much worse than the baseline a metric is *at least*, as a fraction: at the favourable end
    of the ratio's interval (its low end when lower is better), by the ratio itself for an exact
    metric (no interval). Negative when it is better; None without a ratio."""
    if ratio is None:
        return None
    if ci_low is not None and ci_high is not None:
        return (ci_low - 1) if lower_is_better else (1 - ci_high)
    return (ratio - 1) if lower_is_better else (1 - ratio)


class Gated:
    """The gate's half of a comparison (bench, pipeline): the dataclass that mixes it in has the
    fields `threshold`, `regressions` (one line each) and `undecided` (gated metrics without a
    verdict), and says what could not be judged and how to fix it."""

    threshold: float | None
    regressions: list[str]
    undecided: list[str]
    UNDECIDED: ClassVar[tuple[str, str]] = ("not enough repeats to judge", "")  # (what, hint)

    def regressed(self, worse_by: float | None) -> bool:
        """Whether a metric worse by at least `worse_by` (see excess) trips the gate."""
        return self.threshold is not None and worse_by is not None and worse_by > self.threshold

    def check_gate(self) -> None:
        """Raise GateFailed when a threshold was given and something regressed beyond it; an
        EdgeferError (exit 2) when a gated metric could not be judged: a gate must not pass silently."""
        if self.threshold is None:
            return
        if self.regressions:
            raise GateFailed(f"regression beyond {self.threshold:.1%}: " + "; ".join(self.regressions))
        if self.undecided:
            what, hint = self.UNDECIDED
            raise EdgeferError(f"{what}: " + "; ".join(self.undecided), hint=hint)
