"""Keep the runner's heap: no page faults for the frame loop's buffers (device side, stdlib).

glibc returns memory to the kernel when the top of the heap has more than M_TRIM_THRESHOLD free
and serves blocks over M_MMAP_THRESHOLD from fresh mappings. Measured here
(benchmarks/heap_faults.py), a plain Python process that allocates and frees a 224x224x3 float
array (588 KiB, a crop tensor's size) takes 262 minor page faults every time (505 us; 27 us with the
heap kept), the numpy crop resize (103->224 RGB) 739 (1.65 ms; 0.32 ms kept). (Once an
onnxruntime session exists the faults are gone, so it was the TFLite-only runner processes that
paid.) Real-time applications set both thresholds once at start; the pipeline runner, a process of
its own, does the same, and the report says so (`settings.heap`).
Elsewhere (musl, macOS) nothing is changed and the report says that.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_ABOVE_BYTES = 64 << 20  # arrays up to this come from the heap
TRIM_ABOVE_BYTES = 256 << 20  # free memory kept up to this at the heap's top


def keep_heap() -> str:
    """Set glibc's thresholds for this process -> what the report records."""
    if not sys.platform.startswith("linux"):
        return f"unchanged (not Linux: {sys.platform})"
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return "unchanged (no mallopt in this C library)"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, MMAP_ABOVE_BYTES) != 1 or mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE_BYTES) != 1:
        return "unchanged (mallopt refused the thresholds)"
    return f"kept: glibc mallopt, heap arrays up to {MMAP_ABOVE_BYTES >> 20} MiB, trim above {TRIM_ABOVE_BYTES >> 20} MiB"
