"""Pipeline repeats: K runs of the same pipeline, each its own runner process, merged into one
report (host side).

The variance of a pipeline's latency between runs (process start, memory layout, the machine's
state) is larger than what the frames of one run show, as for `bench` (edgefer.runner.hierarchical).
So a pipeline report holds `repeats`: a summary per run, and every frame tagged with its repeat
(`frames.repeat`), from which `edgefer compare` draws a two-level bootstrap. The merged report's
`statistics` are over all frames; `paced` adds the repeats' counts up; the timeline runs on, the
repeats back to back (each row names its repeat).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

MERGED_SCHEMA = "2"
# (repeat index, repeats, frames done, seconds since the repeat's first timed frame)
ProgressFn = Callable[[int, int, int, float], None]
WaitFn = Callable[[str], None]  # told who holds the board while a run waits for it
_TIME_COLUMNS = ("arrival_ns", "start_ns", "end_ns")


def repeat_summary(index: int, r: dict[str, Any]) -> dict[str, Any]:
    s = r.get("statistics") or {}
    p = r.get("paced") or {}

    def p50(d: dict | None) -> float | None:
        return (d or {}).get("p50_ms")

    return {"index": index, "pid": r.get("pid"), "created_utc": r.get("created_utc"), "partial": bool(r.get("partial")),
            "partial_reason": r.get("partial_reason"), "frames": int(s.get("frames") or 0),
            "wall_s": float(s.get("wall_s") or 0.0), "throughput_fps": s.get("throughput_fps"),
            "e2e_p50_ms": p50(s.get("e2e")), "glue_p50_ms": p50(s.get("glue")),
            "stage_p50_ms": {k: p50(v) for k, v in (s.get("stages") or {}).items()},
            "latency_p50_ms": p50(p.get("latency")), "deadline_misses": p.get("deadline_misses")}


def _between(summaries: list[dict[str, Any]], session_cv: float | None) -> dict[str, Any]:
    p50s = [s["e2e_p50_ms"] for s in summaries if s["e2e_p50_ms"] is not None]
    cv = float(np.std(p50s, ddof=1) / np.mean(p50s)) if len(p50s) >= 2 and np.mean(p50s) > 0 else None
    return {"k": len(summaries), "e2e_p50_ms": p50s, "e2e_cv": cv, "session_cv": session_cv}


def _merged_frames(reports: list[dict[str, Any]]) -> tuple[dict[str, np.ndarray], list[float]]:
    """All repeats' frame columns, times shifted so repeat i starts where repeat i-1 ended."""
    cols: dict[str, list[np.ndarray]] = {}
    offsets, offset = [], 0
    for i, r in enumerate(reports):
        frames = r.get("frames") or {}
        n = len(frames.get("e2e_ns") or [])
        offsets.append(offset / 1e9)
        for k, v in frames.items():
            a = np.asarray(v[:n], dtype=np.int64)
            cols.setdefault(k, []).append(a + offset if k in _TIME_COLUMNS else a)
        cols.setdefault("repeat", []).append(np.full(n, i, dtype=np.int64))
        ends = frames.get("end_ns") or []
        offset += int(ends[n - 1]) if n else 0
    return {k: np.concatenate(v) for k, v in cols.items()}, offsets


def _merged_paced(reports: list[dict[str, Any]], cols: dict[str, np.ndarray]) -> dict[str, Any] | None:
    from edgefer.runner.pipeline.summary import dist

    paced = [r.get("paced") for r in reports]
    if any(p is None for p in paced):
        return None
    total = {k: sum(int(p[k]) for p in paced) for k in ("offered", "processed", "dropped", "late", "deadline_misses")}
    run_s = sum(p["processed"] / p["achieved_fps"] for p in paced if p.get("achieved_fps"))
    return {"fps": paced[0]["fps"], "duration_s": paced[0]["duration_s"], **total,
            "achieved_fps": total["processed"] / run_s if run_s > 0 else None,
            "on_time_fps": (total["processed"] - total["late"]) / run_s if run_s > 0 else None,
            "queue_delay": dist(cols["start_ns"] - cols["arrival_ns"]) if cols else None,
            "latency": dist(cols["end_ns"] - cols["arrival_ns"]) if cols else None}


def _merged_energy(reports: list[dict[str, Any]]) -> dict[str, Any] | None:
    energies = [r.get("energy") for r in reports]
    if any(e is None for e in energies):
        return None
    if all(e["status"] == "measured" for e in energies):
        walls = [float((r.get("statistics") or {}).get("wall_s") or 0.0) for r in reports]
        frames = sum(int((r.get("statistics") or {}).get("frames") or 0) for r in reports)
        joules = sum(e["mean_power_w"] * w for e, w in zip(energies, walls))
        return {**energies[0], "mean_power_w": joules / sum(walls) if sum(walls) else None,
                "energy_per_frame_j": joules / frames if frames else None}
    return next(e for e in energies if e["status"] != "measured")


def merge_repeats(reports: list[dict[str, Any]], session_cv: float | None = None) -> dict[str, Any]:
    """Device reports of one pipeline, one per repeat (in run order) -> one report (schema "2")."""
    from edgefer.runner.pipeline.summary import statistics

    merged = copy.deepcopy(reports[0])
    merged["schema_version"] = MERGED_SCHEMA
    merged.pop("pid", None)  # one per repeat, in `repeats`
    summaries = [repeat_summary(i, r) for i, r in enumerate(reports)]
    merged["repeats"] = summaries
    merged["between_repeats"] = _between(summaries, session_cv)
    partial = [s for s in summaries if s["partial"]]
    merged["partial"] = bool(partial)
    merged["partial_reason"] = "; ".join(f"repeat {s['index'] + 1} of {len(reports)}: {s['partial_reason']}"
                                         for s in partial) or None
    cols, offsets = _merged_frames(reports)
    merged["frames"] = {k: v.tolist() for k, v in cols.items()} if cols else None
    merged["statistics"] = statistics(cols) if cols and cols["e2e_ns"].size else None
    if merged["statistics"] is not None:
        # throughput over the repeats' own run times (the gaps between the processes are not the pipeline's)
        wall = sum(s["wall_s"] for s in summaries)
        merged["statistics"]["wall_s"] = wall
        merged["statistics"]["throughput_fps"] = merged["statistics"]["frames"] / wall if wall > 0 else None
    merged["paced"] = _merged_paced(reports, cols) if merged.get("paced") is not None else None
    timeline, second = [], 0
    for i, r in enumerate(reports):
        rows = r.get("timeline") or []
        timeline += [{**row, "t_s": row["t_s"] + second, "repeat": i} for row in rows]
        second += len(rows)
    merged["timeline"] = timeline
    merged["energy"] = _merged_energy(reports)
    merged["environment"]["temperatures_after"] = reports[-1]["environment"].get("temperatures_after")
    merged["environment"]["throttling"] = reports[-1]["environment"].get("throttling")
    return merged


def frames_by_repeat(frames: dict[str, list[int]] | None, values: np.ndarray) -> list[np.ndarray]:
    """Per-frame `values` split into one array per repeat (a schema "1" report is one repeat)."""
    rep = np.asarray((frames or {}).get("repeat") or [], dtype=np.int64)
    if rep.size != values.size or rep.size == 0:
        return [values] if values.size else []
    return [values[rep == k] for k in np.unique(rep)]


def _progress_events(on_progress: ProgressFn | None, index: int, repeats: int) -> Callable[[dict], None] | None:
    """The runner's JSON progress events of one repeat -> on_progress."""
    if on_progress is None:
        return None

    def on_event(event: dict) -> None:
        if event.get("event") == "pipeline_progress":
            on_progress(index, repeats, int(event.get("frames") or 0), float(event.get("elapsed_s") or 0.0))

    return on_event


def run_repeats(host: Any, module_args: list[str], repeats: int, lock: tuple[float, WaitFn | None],
                on_progress: ProgressFn | None) -> tuple[list[dict[str, Any]], str | None, dict]:
    """Hold the board (`lock`: timeout, on_wait) and run repeats 0..repeats-1 in order, each a fresh
    runner process `python -m MODULE_ARGS` on `host` (an edgefer.bench.hosts.RunnerHost: here or on a
    board) -> (their reports, why the repeats stopped early or None, the lock's record). A repeat
    that ends partial (interrupted, crashed) ends the run: what it measured is kept."""
    # imported here, not at the top: `edgefer compare` needs this module, not the deploy machinery
    from edgefer.deploy.runner_process import STOPPED

    reports: list[dict[str, Any]] = []
    with host.hold(*lock) as exclusive:
        for i in range(repeats):
            try:
                report = host.run_runner(module_args, "pipeline", _progress_events(on_progress, i, repeats))
            except KeyboardInterrupt:  # stopped before this repeat measured a frame
                if reports:
                    return reports, f"{STOPPED} before repeat {i + 1} of {repeats} had a frame", exclusive
                raise
            reports.append(report)
            if on_progress is not None:  # the bar's last step: what the report says (events: twice a second)
                s = report.get("statistics") or {}
                on_progress(i, repeats, int(s.get("frames") or 0), float(s.get("wall_s") or 0.0))
            if report.get("partial"):
                ended = f"repeat {i + 1} of {repeats} ended early" if i + 1 < repeats else None
                return reports, ended, exclusive
    return reports, None, exclusive
