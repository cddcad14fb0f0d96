"""Per-op profiles of a loaded runtime (`bench --op-profile N`), device side.

Profiled runs are separate from the timed runs: `profile_ops` is called after timing has
finished and, for onnxruntime, opens a second session with the session profiler on, so the
profiler's overhead never reaches the latency statistics. Each runtime profiles itself
(`Runtime.profile_ops`, edgefer/runner/runtimes/base.py: by default "no op profiler"); the
profilers of the runtimes that have one live here, one module per runtime:

- onnxrt: onnxruntime's session profiler (Chrome-trace JSON), per node and per op type, plus the
  QuantizeLinear/DequantizeLinear nodes and float islands of QDQ int8 models.
- litert: which ops the XNNPACK delegate took (delegate partitions); the Python interpreter has
  no per-op timer, so no per-op times (the section says why).

Every result is a plain dict, the `op_profile` section of the report (schema in
edgefer/report/op_profile.py, host side). Whatever goes wrong here leaves the benchmark intact:
the section then has status "unavailable" and the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgefer.errors import EdgeferError, first_line

OP_PROFILE_VERSION = "1"


def unavailable(runtime: str | None, reason: str, **extra: Any) -> dict[str, Any]:
    return {"version": OP_PROFILE_VERSION, "runtime": runtime, "status": "unavailable", "reason": reason,
            "profiled_runs": 0, "warmup_runs": 0, **extra}


def profile_ops(rt: Any, feeds: list[np.ndarray], runs: int, warmup: int = 2) -> dict[str, Any]:
    """The op_profile section for a runtime that has finished its timed runs."""
    if runs < 1:
        raise EdgeferError(f"--op-profile must be >= 1 profiled runs, got {runs}")
    name = getattr(rt, "name", None)
    profile = getattr(rt, "profile_ops", None)
    if profile is None:  # an opener's object that is not an edgefer Runtime
        return unavailable(name, f"runtime '{name}' has no op profiler in edgefer "
                                 "(onnxruntime and LiteRT have)")
    try:
        return profile(feeds, runs, warmup)
    except KeyboardInterrupt:
        return unavailable(name, "interrupted while profiling (the timed runs are complete)")
    except Exception as exc:  # a profiler failure must not cost the benchmark
        return unavailable(name, f"profiling failed: {type(exc).__name__}: {first_line(exc)[:200]}")
