"""Process resource use over the timed window: peak RSS and CPU utilisation.

psutil when present; otherwise `resource` (peak RSS) and `os.times` (CPU time). CPU utilisation is
process CPU time / wall time x 100, so a run using 4 busy threads reads ~400 %.
"""

from __future__ import annotations

import os
import sys
import time

try:
    import psutil
except ImportError:  # optional on the device
    psutil = None


def _cpu_seconds() -> float:
    if psutil is not None:
        t = psutil.Process().cpu_times()
        return t.user + t.system
    t = os.times()
    return t.user + t.system


def peak_rss_mb() -> float | None:
    """Lifetime peak resident set size of this process (includes model loading)."""
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb / 1024.0 / (1024.0 if sys.platform == "darwin" else 1.0)  # macOS reports bytes
    except (ImportError, OSError):
        pass
    if psutil is not None:
        return psutil.Process().memory_info().rss / 2**20  # current, the best psutil offers here
    return None


MIN_WINDOW_S = 0.5  # CPU time advances in clock ticks (~10 ms): shorter windows give noise, not data


class CpuWindow:
    """CPU utilisation between start() and stop(); None for windows too short to measure."""

    def start(self) -> None:
        self._cpu0, self._wall0 = _cpu_seconds(), time.perf_counter()

    def stop(self) -> float | None:
        wall = time.perf_counter() - self._wall0
        return 100.0 * (_cpu_seconds() - self._cpu0) / wall if wall >= MIN_WINDOW_S else None
