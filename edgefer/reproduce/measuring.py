"""Measuring a paper's rows: convert once per model, PyTorch eager rows, and one interleaved
bench of the paper's artifacts, each row filled from its (cached or new) report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgefer.bench.cache import ReportCache, Step, convert_once, one_line
from edgefer.reproduce.records import TORCH, Row, Settings

Cache = ReportCache  # OUT/cache.json (edgefer.bench.cache), shared with `study`
_one_line = one_line


def convert_dir(out: Path, model: str, s: Settings, step: Step) -> dict:
    """Convert (or reuse a previous conversion with the same settings); returns the manifest."""
    from edgefer.convert import ConvertOptions

    def same(m: dict) -> bool:
        got = m.get("settings", {})
        calib = m.get("calibration") or {}
        return (got.get("formats") == list(s.deployed_formats()) and got.get("precisions") == list(s.precisions)
                and got.get("target") == s.target
                and got.get("calib") == (None if s.calib_data is None else str(s.calib_data))
                and (calib.get("source") == "random") == (s.calib_data is None))

    d = out / "artifacts" / model
    opts = ConvertOptions(model=model, out=d, formats=s.deployed_formats(), precisions=s.precisions, target=s.target,
                          calib=s.calib_data)
    return convert_once(d, opts, lambda desc: step(f"{model}: {desc}"), reusable=same)


def bench_torch_row(r: Row, model: str, s: Settings, cache: Cache, out: Path, step: Step, on_progress, what: str) -> None:
    """Time the zoo model in PyTorch eager on the host (no artifact: the key is the torch version)."""
    import torch

    from edgefer.bench.api import bench

    row_id = f"{model}_{TORCH}_fp32"
    key = {**s.bench_key(), "model": model, "runtime": TORCH, "torch": torch.__version__}
    rel = f"reports/{row_id}.json"
    rep = cache.get(row_id, key)
    try:
        if rep is not None:
            r.cached = True
        else:
            with step(f"{what}: bench PyTorch eager"):
                # PyTorch eager runs on the host: never counted, so the profile's default applies
                rep = bench(model, s.bench.with_(count_instructions=None), target=s.target, runtime=TORCH,
                            label=f"{model} torch fp32", out=str(out / rel), on_progress=on_progress)[0]
            if not rep.get("partial"):
                cache.put(row_id, key, rel)
        r.report = rel
        fill_from_report(r, rep)
    except Exception as exc:  # reported in the row; the next one goes on
        r.error = _one_line(exc)


def fill_from_report(row: Row, rep: dict) -> None:
    from edgefer.compare.reports import repeat_groups
    from edgefer.runner.hierarchical import point_estimate

    groups = [g for g in repeat_groups(rep) if g.size]
    if groups:  # the same statistics as compare: means over repeats of each repeat's p50/p90/mean
        row.p50_ms, row.p90_ms, row.mean_ms = (float(v) for v in point_estimate(groups, ["p50", "p90", "mean"]))
        row.throughput_sps = 1e3 / row.mean_ms
    row.n_samples = int(sum(g.size for g in groups))
    e = rep.get("energy") or {}
    row.energy_status, row.energy_reason = e.get("status"), e.get("reason")
    if e.get("status") in ("measured", "estimated"):
        row.energy_j = e.get("energy_per_inference_j")
    row.emulated = (rep.get("environment") or {}).get("emulated")
    row.instructions = (rep.get("instructions") or {}).get("per_inference")
    if rep.get("partial"):
        row.error = f"partial report: {rep.get('partial_reason') or 'interrupted'}"


@dataclass
class Pending:
    row: Row
    path: str
    rel: str
    row_id: str
    key: dict


def bench_pending(pending: list[Pending], s: Settings, cache: Any, outp: Path, on_progress: Any) -> None:
    """One bench_jobs call for a paper's artifacts, so their repeats interleave (A B C A B C ...) and
    slow drift hits all alike; a failing artifact keeps its error in its row, the others go on."""
    from edgefer.bench.api import bench_jobs
    from edgefer.bench.jobs import file_job

    if not pending:
        return
    failures: dict[int, str] = {}
    try:
        jobs = [file_job(p.path, p.row.precision) for p in pending]
        reports = bench_jobs(jobs, s.bench, target=s.target, repeat=s.repeat,
                             labels=[f"{p.row.model} {p.row.format} {p.row.precision}" for p in pending],
                             outs=[str(outp / p.rel) for p in pending], on_progress=on_progress, failures=failures,
                             aligned=True)
    except Exception as exc:  # the whole batch could not run (board unreachable, busy past the timeout)
        for p in pending:
            p.row.error = _one_line(exc)
        return
    for j, (p, rep) in enumerate(zip(pending, reports)):
        if rep is None:
            p.row.error = failures.get(j, "not measured (the run was interrupted before it)")
            continue
        if not rep.get("partial"):
            cache.put(p.row_id, p.key, p.rel)
        p.row.report = p.rel
        fill_from_report(p.row, rep)
