"""Energy per inference over the exact timed window, with an idle baseline.

Sequence (driven by the runner): idle() samples the meter with the model loaded but not running,
start() begins sampling before the first inference, finish(t0, t1, n) integrates over the timed
window [t0, t1] and divides by n inferences (images). Uncertainty is a 1-sigma estimate from
sampling noise (standard error of the mean power x window) and edge interpolation (one sample
period at mean power), combined in quadrature; it excludes the sensor's calibration error.
"""

from __future__ import annotations

import math
import time
from typing import Any

from edgefer.runner.energy.base import Meter, Sampler, integrate, mean_std, power_series


def unavailable(reason: str, meter: str | None = None) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason, "meter": meter, "rail": None, "sample_rate_hz": None,
            "n_samples": None, "window_s": None, "idle_power_w": None, "mean_power_w": None,
            "energy_per_inference_j": None, "energy_per_inference_above_idle_j": None, "uncertainty_j": None}


def estimated(nominal_power_w: float, window_s: float, n_inferences: int) -> dict[str, Any]:
    """Nominal board power x time: labelled estimated, no sensor involved."""
    return {**unavailable("estimated from the profile's nominal power, not measured"), "status": "estimated",
            "meter": "nominal_power", "window_s": window_s, "mean_power_w": nominal_power_w,
            "energy_per_inference_j": nominal_power_w * window_s / n_inferences if n_inferences else None}


class EnergyRecorder:
    def __init__(self, meter: Meter, rate_hz: float | None = None) -> None:
        self.meter = meter
        self.rate_hz = float(rate_hz or meter.default_rate_hz)
        self.idle_power_w: float | None = None
        self._idle_std = 0.0
        self._idle_n = 0
        self._sampler: Sampler | None = None

    def _samples(self, sampler: Sampler) -> list[tuple[int, float]]:
        raw = sampler.samples
        if self.meter.cumulative:
            vals = self.meter.unwrap([v for _, v in raw])
            return [(t, v) for (t, _), v in zip(raw, vals)]
        return list(raw)

    def idle(self, seconds: float) -> None:
        """Idle baseline: mean power while nothing runs."""
        if seconds <= 0:
            return
        sampler = Sampler(self.meter, self.rate_hz)
        sampler.start()
        time.sleep(seconds)
        sampler.stop()
        samples = self._samples(sampler)
        if len(samples) >= 2:
            t0, t1 = samples[0][0], samples[-1][0]
            self.idle_power_w = integrate(samples, t0, t1, self.meter.cumulative) / ((t1 - t0) * 1e-9)
            _, self._idle_std = mean_std(power_series(samples, self.meter.cumulative))
            self._idle_n = len(samples)

    def start(self) -> None:
        self._sampler = Sampler(self.meter, self.rate_hz)
        self._sampler.start()

    def finish(self, t0_ns: int | None, t1_ns: int | None, n_inferences: int) -> dict[str, Any]:
        assert self._sampler is not None, "start() first"
        self._sampler.stop()
        name, rail = self.meter.describe(), self.meter.rail
        if self._sampler.error:
            return {**unavailable(f"meter failed during the run: {self._sampler.error}", name), "rail": rail}
        samples = self._samples(self._sampler)
        if t0_ns is None or t1_ns is None or t1_ns <= t0_ns or n_inferences <= 0 or len(samples) < 2:
            return {**unavailable("no timed window to integrate over", name), "rail": rail}
        window_s = (t1_ns - t0_ns) * 1e-9
        energy = integrate(samples, t0_ns, t1_ns, self.meter.cumulative)
        inside = [(t, v) for t, v in samples if t0_ns <= t <= t1_ns]
        powers = power_series(inside, self.meter.cumulative)
        mean_p = energy / window_s
        _, sd = mean_std(powers)
        sem = (sd / math.sqrt(len(powers))) if len(powers) > 1 else mean_p  # 1 reading: 100 % uncertain
        u_total = math.hypot(sem * window_s, mean_p / self.rate_hz)
        if self.idle_power_w is not None and self._idle_n > 1:
            u_total = math.hypot(u_total, self._idle_std / math.sqrt(self._idle_n) * window_s)
        above = (energy - self.idle_power_w * window_s) / n_inferences if self.idle_power_w is not None else None
        return {
            "status": "measured", "reason": None, "meter": name, "rail": rail,
            "sample_rate_hz": self.rate_hz, "n_samples": len(inside), "window_s": window_s,
            "idle_power_w": self.idle_power_w, "mean_power_w": mean_p,
            "energy_per_inference_j": energy / n_inferences,
            "energy_per_inference_above_idle_j": above,
            "uncertainty_j": u_total / n_inferences,
        }
