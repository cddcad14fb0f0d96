"""Meter interface, background sampler and the integration over the timed window.

Device side: stdlib only. A meter is either
- a counter (`cumulative = True`): `read()` returns joules since some origin (RAPL), or
- a power meter (`cumulative = False`): `read()` returns instantaneous watts (INA3221, PMIC, ...).
The sampler calls `read()` at a stated rate in a thread and keeps (perf_counter_ns, value) pairs;
`integrate()` gives the energy over exactly [t0, t1] by linear interpolation at the edges.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod


class Meter(ABC):
    name: str = "meter"
    cumulative: bool = False
    default_rate_hz: float = 10.0
    # the keys of a meter spec (a target profile's `energy:` block) passed on to __init__
    spec_keys: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.rail: str | None = None

    @abstractmethod
    def read(self) -> float:
        """Joules (cumulative meters) or watts (power meters)."""

    def unwrap(self, values: list[float]) -> list[float]:
        """Cumulative meters whose counter wraps override this."""
        return values

    def describe(self) -> str:
        return self.name


class Sampler:
    """Samples a meter in a daemon thread at `rate_hz` until stopped."""

    def __init__(self, meter: Meter, rate_hz: float | None = None) -> None:
        self.meter = meter
        self.rate_hz = float(rate_hz or meter.default_rate_hz)
        self.samples: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def _sample(self) -> None:
        self.samples.append((time.perf_counter_ns(), self.meter.read()))

    def _loop(self) -> None:
        period = 1.0 / self.rate_hz
        nxt = time.perf_counter() + period
        try:
            self._stop.wait(period)
            while not self._stop.is_set():
                self._sample()
                nxt += period
                self._stop.wait(max(0.0, nxt - time.perf_counter()))
        except Exception as exc:  # a meter that fails mid-run: keep what was sampled, say why
            self.error = f"{type(exc).__name__}: {exc}"

    def start(self) -> None:
        self._sample()  # synchronously: the window that follows is bracketed from below
        self._thread = threading.Thread(target=self._loop, name=f"edgefer-meter-{self.meter.name}", daemon=True)
        self._thread.start()

    def stop(self) -> list[tuple[int, float]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:  # one last sample so the window's end is bracketed
            self._sample()
        except Exception:
            pass
        return self.samples


def _interp(ts: list[int], vs: list[float], t: int) -> float:
    """Linear interpolation of v at t (clamped to the first/last sample outside the range)."""
    if t <= ts[0]:
        return vs[0]
    if t >= ts[-1]:
        return vs[-1]
    lo, hi = 0, len(ts) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ts[mid] <= t:
            lo = mid
        else:
            hi = mid
    f = (t - ts[lo]) / (ts[hi] - ts[lo]) if ts[hi] != ts[lo] else 0.0
    return vs[lo] + f * (vs[hi] - vs[lo])


def integrate(samples: list[tuple[int, float]], t0: int, t1: int, cumulative: bool) -> float:
    """Joules over [t0, t1] (perf_counter_ns). Power samples: trapezoid rule; counters: difference."""
    if len(samples) < 2 or t1 <= t0:
        raise ValueError("need at least two samples and a non-empty window")
    ts = [t for t, _ in samples]
    vs = [v for _, v in samples]
    if cumulative:
        return _interp(ts, vs, t1) - _interp(ts, vs, t0)
    pts = [(t0, _interp(ts, vs, t0))] + [(t, v) for t, v in samples if t0 < t < t1] + [(t1, _interp(ts, vs, t1))]
    return sum((b[0] - a[0]) * 1e-9 * (a[1] + b[1]) / 2 for a, b in zip(pts, pts[1:]))


def power_series(samples: list[tuple[int, float]], cumulative: bool) -> list[float]:
    """Watts per sample interval (counters are differenced)."""
    if not cumulative:
        return [v for _, v in samples]
    return [(b[1] - a[1]) / ((b[0] - a[0]) * 1e-9) for a, b in zip(samples, samples[1:]) if b[0] > a[0]]


def mean_std(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return math.nan, math.nan
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd
