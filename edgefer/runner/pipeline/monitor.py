"""Once-a-second board state during a sustained run: CPU frequency, temperatures, throttling,
and power from the board's meter (device side: stdlib + edgefer.runner.envinfo / edgefer.runner.energy).

A daemon thread samples every `period_s`; each sample is (perf_counter_ns, dict). Power comes
from an edgefer.runner.energy meter sampled by its own Sampler and is integrated per second later
(`power_between`), so a counter (RAPL) and a power sensor (INA3221) are handled alike.
Anything unreadable is null, never guessed.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from typing import Any

from edgefer.runner import envinfo
from edgefer.runner.files import read_text


def cpu_freq_mhz(root: str = "/") -> float | None:
    """Mean current CPU frequency: cpufreq's scaling_cur_freq (kHz), else /proc/cpuinfo 'cpu MHz'."""
    vals = []
    for p in glob.glob(os.path.join(root, "sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq")):
        raw = read_text(p)
        if raw and raw.isdigit():
            vals.append(int(raw) / 1000.0)
    if not vals:
        for line in (read_text(os.path.join(root, "proc/cpuinfo")) or "").splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "cpu mhz":
                try:
                    vals.append(float(value))
                except ValueError:
                    pass
    return sum(vals) / len(vals) if vals else None


class BoardMonitor:
    def __init__(self, meter: Any | None = None, period_s: float = 1.0) -> None:
        self.period_s = period_s
        self.samples: list[tuple[int, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.meter = meter
        self._power_sampler = None
        self.meter_error: str | None = None

    def _sample(self) -> None:
        self.samples.append((time.perf_counter_ns(), {
            "cpu_freq_mhz": cpu_freq_mhz(), "temperatures": envinfo.temperatures(), "throttling": envinfo.throttling()}))

    def _loop(self) -> None:
        nxt = time.perf_counter() + self.period_s
        while not self._stop.wait(max(0.0, nxt - time.perf_counter())):
            self._sample()
            nxt += self.period_s

    def start(self) -> None:
        if self.meter is not None:
            from edgefer.runner.energy import Sampler

            self._power_sampler = Sampler(self.meter)
            self._power_sampler.start()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="edgefer-pipeline-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._power_sampler is not None:
            self._power_sampler.stop()
            self.meter_error = self._power_sampler.error
        self._sample()

    def power_between(self, t0_ns: int, t1_ns: int) -> float | None:
        """Mean watts over [t0, t1] from the meter's samples, or None without a meter."""
        s = self._power_sampler
        if s is None or len(s.samples) < 2 or t1_ns <= t0_ns or s.samples[0][0] > t0_ns or s.samples[-1][0] < t1_ns:
            return None
        from edgefer.runner.energy import integrate

        samples = s.samples
        if self.meter.cumulative:
            vals = self.meter.unwrap([v for _, v in samples])
            samples = [(t, v) for (t, _), v in zip(samples, vals)]
        return integrate(samples, t0_ns, t1_ns, self.meter.cumulative) / ((t1_ns - t0_ns) * 1e-9)

    def nearest(self, t_ns: int) -> dict[str, Any] | None:
        if not self.samples:
            return None
        return min(self.samples, key=lambda s: abs(s[0] - t_ns))[1]
