"""Process resource use of the runner: memory before and after the model, threads, CPU utilisation.

Memory comes from /proc/self/status (VmRSS now, VmHWM = this process image's peak): after exec the
counters start afresh, so a runner started by a host process that holds gigabytes (torch, a big
tensor) reports only its own memory. `ru_maxrss` is the fallback where /proc is missing; it is
not used first because Linux carries the pre-exec peak of a vfork()ed parent into it.
CPU utilisation is process CPU time / wall time x 100, so a run using 4 busy threads reads ~400 %.
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


def _proc_status() -> dict[str, str]:
    try:
        with open("/proc/self/status") as f:
            return dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return {}


def _status_mb(field: str) -> float | None:
    value = _proc_status().get(field, "").strip()
    if value.endswith("kB"):
        try:
            return int(value[:-2]) / 1024.0
        except ValueError:
            return None
    return None


def rss_mb() -> float | None:
    """Resident set size now."""
    now = _status_mb("VmRSS")
    if now is None and psutil is not None:
        now = psutil.Process().memory_info().rss / 2**20
    return now


def thread_count() -> int | None:
    """Threads of this process now (the runtime's worker pool included)."""
    value = _proc_status().get("Threads", "").strip()
    if value.isdigit():
        return int(value)
    if psutil is not None:
        return psutil.Process().num_threads()
    return None


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process image (includes model loading)."""
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
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
