"""Rebuild a paper's efficiency table on a target, beside the published figures.

    result = reproduce("mobilenetv3-ca-dka", target="local", formats=("onnx",), precisions=("fp32",))

For each model of the paper (benchmarks/papers.yaml) and each format/precision asked:
params and MACs/FLOPs (edgefer.profile, at the zoo model's default input), the artifact
(edgefer.convert), and its latency/throughput/energy on the target (edgefer.bench). Every
published figure is shown beside ours with the ratio ours/published, and the paper's claims
are checked against what we measure (latency claims with the statistics of edgefer.compare).

Resumable: OUT/cache.json maps (model, format, precision, artifact sha256, bench settings,
target) to a report in OUT/reports/; a row whose key matches is not measured again. A
conversion directory whose manifest was made with the same settings is not converted again.
A model that fails is reported in its rows; the others go on.

The zoo models are untrained (seed-0 random weights): latency, size and FLOPs do not depend on
the weights, but int8 calibration uses random inputs unless `calib_data` is given.
"""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from edgefer.errors import EdgeferError
from edgefer.measure import ReportCache, Step, convert_once, one_line
from edgefer.papers import Paper, load_papers
from edgefer.runner.files import write_json_atomic, write_text_atomic

TORCH = "torch"  # PyTorch eager on the host (edgefer.torch_runtime), as seed 000 timed its models
UNTRAINED_NOTE = (
    "Models are untrained (seed-0 random weights; no trained weights can be downloaded): latency, size, "
    "params and FLOPs do not depend on the weights; int8 calibration used {calib}."
)

def flops_convention(published: float, macs: int, flops: int) -> str:
    """Which of our counts ("MACs" or "FLOPs" = 2 x MACs) a published "FLOPs" figure is nearer to (log scale)."""
    return "MACs" if abs(math.log(published / macs)) < abs(math.log(published / flops)) else "FLOPs"


@dataclass
class Settings:
    target: str = "local"
    formats: tuple[str, ...] = ("onnx", "tflite")
    precisions: tuple[str, ...] = ("fp32", "int8")
    runs: int | None = None
    warmup: int | None = None
    min_seconds: float | None = None
    threads: int | None = None
    energy: str = "auto"
    calib_data: str | None = None
    repeat: int | None = None

    def deployed_formats(self) -> tuple[str, ...]:
        """The formats convert produces (PyTorch eager, "torch", is timed from the zoo model itself)."""
        return tuple(f for f in self.formats if f != TORCH)

    def series(self) -> list[tuple[str, str]]:
        """(format, precision) of each row per model; PyTorch eager is fp32 only."""
        return [(f, p) for f in self.formats for p in (("fp32",) if f == TORCH else self.precisions)]

    def bench_key(self) -> dict:
        """What changes a measurement (the artifact hash is added per row)."""
        return {"target": self.target, "runs": self.runs, "warmup": self.warmup, "min_seconds": self.min_seconds,
                "threads": self.threads, "energy": self.energy, "batch_size": 1, "repeat": self.repeat,
                "schema": "2"}


@dataclass
class Row:
    paper: str
    model: str
    label: str
    role: str
    format: str | None
    precision: str | None
    params: int | None = None
    macs: int | None = None
    flops: int | None = None
    input_shape: list[int] | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    p50_ms: float | None = None  # per sample (batch 1)
    p90_ms: float | None = None
    mean_ms: float | None = None
    throughput_sps: float | None = None
    energy_j: float | None = None
    energy_status: str | None = None
    energy_reason: str | None = None
    n_samples: int | None = None
    emulated: bool | None = None
    report: str | None = None  # path relative to the out dir
    cached: bool = False
    verification: list[str] = field(default_factory=list)  # conversion gate violations
    error: str | None = None
    published: dict[str, list[dict]] = field(default_factory=dict)  # metric -> figures with ratios
    instructions: float | None = None  # guest instructions per inference (emulated board, edgefer.instructions)


@dataclass
class ClaimCheck:
    id: str
    statement: str
    source: str
    metric: str
    subject: str
    reference: str
    direction: str
    expected_ratio: float | None
    series: str | None  # "onnx fp32" for latency claims, None for counts
    measured_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    outcome: str = "not checked"  # holds / contradicted / not confirmed (...) / not checked (...)
    emulated: bool = False  # latency measured on an emulated board: a verdict about QEMU, not silicon


@dataclass
class PaperResult:
    id: str
    short_name: str
    title: str
    notes: str
    flops_convention: str | None  # which of our counts matches the paper's "FLOPs"; None: paper prints none
    has_figures: bool
    rows: list[Row]
    claims: list[ClaimCheck]


@dataclass
class ReproduceResult:
    out_dir: str
    settings: Settings
    target: dict | None
    papers: list[PaperResult]
    command: str
    note: str
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        from edgefer import __version__

        return {
            "kind": "edgefer.reproduce", "schema_version": "1", "edgefer_version": __version__,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": self.command, "note": self.note, "target": self.target,
            "settings": asdict(self.settings), "papers": [asdict(p) for p in self.papers], "files": self.files,
        }


# ---------------------------------------------------------------- measuring

Cache = ReportCache  # OUT/cache.json (edgefer.measure), shared with `study`
_one_line = one_line


def _convert_dir(out: Path, model: str, s: Settings, step: Step) -> dict:
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


def _bench_torch_row(r: Row, model: str, s: Settings, cache: Cache, out: Path, step: Step, on_progress, what: str) -> None:
    """Time the zoo model in PyTorch eager on the host (no artifact: the key is the torch version)."""
    import torch

    from edgefer.bench import bench

    row_id = f"{model}_{TORCH}_fp32"
    key = {**s.bench_key(), "model": model, "runtime": TORCH, "torch": torch.__version__}
    rel = f"reports/{row_id}.json"
    rep = cache.get(row_id, key)
    try:
        if rep is not None:
            r.cached = True
        else:
            with step(f"{what}: bench PyTorch eager"):
                rep = bench(model, target=s.target, runtime=TORCH, runs=s.runs, warmup=s.warmup,
                            min_seconds=s.min_seconds, threads=s.threads, energy=s.energy,
                            label=f"{model} torch fp32", out=str(out / rel), on_progress=on_progress)[0]
            if not rep.get("partial"):
                cache.put(row_id, key, rel)
        r.report = rel
        _fill_from_report(r, rep)
    except Exception as exc:  # reported in the row; the next one goes on
        r.error = _one_line(exc)


def _fill_from_report(row: Row, rep: dict) -> None:
    from edgefer.compare import repeat_groups
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


def _published(row: Row, pm, convention: str | None) -> None:
    """Attach each published figure with ours/published (in the paper's convention for FLOPs)."""
    ours = {
        "params": row.params,
        "flops": (row.macs if convention == "MACs" else row.flops) if row.macs is not None else None,
        "throughput": row.throughput_sps,
        "energy": row.energy_j,
        "model_size": row.size_bytes / 1e6 if row.size_bytes else None,
    }
    for f in pm.figures:
        base = f.base_value()
        if f.metric == "latency":  # like for like: the paper's mean against our mean, else our median
            mine, ours_stat = (row.mean_ms, "mean") if f.statistic == "mean" else (row.p50_ms, "p50")
        else:
            mine, ours_stat = ours[f.metric], None
        row.published.setdefault(f.metric, []).append({
            "printed": f.printed(), "value": base, "convention": f.convention, "setting": f.setting,
            "dataset": f.dataset, "source": f.source.cite(), "quote": f.source.quote,
            "ours": mine, "ours_statistic": ours_stat, "ratio": (mine / base) if mine is not None and base else None,
        })


def _paper_convention(paper: Paper, profiles: dict[str, dict]) -> str | None:
    votes = []
    for pm in paper.models:
        prof = profiles.get(pm.zoo)
        for f in pm.figures_for("flops"):
            if prof:
                votes.append(flops_convention(f.base_value(), prof["macs"], prof["flops"]))
    if not votes:
        return None
    return max(set(votes), key=votes.count)


def _check_claims(paper: Paper, rows: list[Row], profiles: dict[str, dict], out: Path) -> list[ClaimCheck]:
    from edgefer.compare import compare_reports

    checks = []
    by = {(r.model, r.format, r.precision): r for r in rows}
    series = sorted({(r.format, r.precision) for r in rows if r.format})
    for c in paper.claims:
        base = dict(id=c.id, statement=c.statement, source=c.source.cite(), metric=c.metric, subject=c.subject,
                    reference=c.reference, direction=c.direction, expected_ratio=c.expected_ratio)
        if c.metric in ("params", "flops"):
            ps, pr = profiles.get(c.subject), profiles.get(c.reference)
            chk = ClaimCheck(**base, series=None)
            if not ps or not pr:
                chk.outcome = "not checked (model could not be profiled)"
            else:
                key = "params" if c.metric == "params" else "macs"  # FLOPs = 2 x MACs: same ratio
                chk.measured_ratio = ps[key] / pr[key]
                chk.outcome = _outcome(c.direction, chk.measured_ratio, significant=chk.measured_ratio != 1)
            checks.append(chk)
            continue
        if c.metric != "latency":
            checks.append(ClaimCheck(**base, series=None, outcome=f"not checked (metric {c.metric})"))
            continue
        for fmt, prec in series:
            chk = ClaimCheck(**base, series=f"{fmt} {prec}")
            rs, rr = by.get((c.subject, fmt, prec)), by.get((c.reference, fmt, prec))
            if not (rs and rr and rs.report and rr.report and not rs.error and not rr.error):
                chk.outcome = "not checked (a model of the claim has no measurement)"
                checks.append(chk)
                continue
            cmp = compare_reports([out / rr.report, out / rs.report])
            m = next(m for m in next(iter(cmp.metrics.values())) if m.metric == "p50_ms")
            chk.measured_ratio, chk.ci_low, chk.ci_high, chk.p_value = m.ratio, m.ci_low, m.ci_high, m.p_value
            significant = m.verdict in ("faster", "slower")
            # the same statistics as compare: repeats, two-level bootstrap; one repeat is not judged
            chk.outcome = (f"not judged ({m.verdict[5:-1]})" if m.undecided
                           else _outcome(c.direction, m.ratio, significant))
            chk.emulated = bool(rs.emulated or rr.emulated)
            checks.append(chk)
    return checks


def _outcome(direction: str, ratio: float, significant: bool) -> str:
    up = ratio > 1
    if direction in ("lower", "higher"):
        if not significant:
            return "not confirmed (no significant difference)"
        return "holds" if up == (direction == "higher") else "contradicted"
    # not_higher / not_lower: only a significant change the wrong way contradicts it
    wrong = up if direction == "not_higher" else not up
    return "contradicted" if significant and wrong else "holds"


# ---------------------------------------------------------------- main entry


def reproduce(
    paper: str,
    *,
    target: str = "local",
    formats: tuple[str, ...] = ("onnx", "tflite"),
    precisions: tuple[str, ...] = ("fp32", "int8"),
    out: str | Path = "reproduce-out",
    runs: int | None = None,
    warmup: int | None = None,
    min_seconds: float | None = None,
    threads: int | None = None,
    energy: str = "auto",
    calib_data: str | None = None,
    papers_path: str | Path | None = None,
    use_cache: bool = True,
    plot: bool = True,
    progress: Any = None,
    command: str | None = None,
    repeat: int | None = None,
    count_instructions: bool | None = None,
) -> ReproduceResult:
    """Measure every model of `paper` (seed id, short name or "all"); write results.json, table.md, chart.png.

    `progress`: a rich.progress.Progress (or None) that gets one overall task across the run.
    """
    from edgefer.bench import ENERGY_MODES
    from edgefer.convert.api import FORMATS, PRECISIONS
    from edgefer.profile import profile_zoo_model

    for value, allowed, flag in ((formats, (TORCH, *FORMATS), "--formats"), (precisions, PRECISIONS, "--precisions")):
        bad = [v for v in value if v not in allowed]
        if bad or not value:
            raise EdgeferError(f"{flag} {','.join(value)!s} invalid", hint=f"choose from {', '.join(allowed)}")
    if energy not in ENERGY_MODES:
        raise EdgeferError(f"invalid --energy {energy!r}", hint=f"choose from {', '.join(ENERGY_MODES)}")
    from edgefer.runner.settings import BenchSettings

    # every bench value checked before the first conversion (unset ones come from the profile)
    BenchSettings(runs=1 if runs is None else runs, warmup=0 if warmup is None else warmup,
                  min_seconds=0.0 if min_seconds is None else min_seconds, threads=threads, energy="none").validate()
    if calib_data and not os.path.exists(calib_data.rsplit(":", 1)[0] if not os.path.exists(calib_data) else calib_data):
        raise EdgeferError(f"--calib-data {calib_data}: not found")
    if repeat is not None and (isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 1000):
        raise EdgeferError(f"--repeat must be an integer between 1 and 1000, got {repeat!r}")
    papers = load_papers(papers_path).select(paper)
    target_summary = None
    try:
        from edgefer.targets import load_target

        target_summary = load_target(target).summary()
    except ImportError:
        pass
    s = Settings(target=target, formats=tuple(formats), precisions=tuple(precisions), runs=runs, warmup=warmup,
                 min_seconds=min_seconds, threads=threads, energy=energy, calib_data=calib_data, repeat=repeat)
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    cache = Cache(outp, enabled=use_cache)
    series = s.series()
    n_models = sum(len(p.models) for p in papers)
    # units of work: profile + convert per model, one bench per series
    overall = progress.add_task("reproduce", total=n_models * (2 + len(series))) if progress else None
    sub = progress.add_task("", total=None, visible=False) if progress else None

    def advance(n: int = 1) -> None:
        if progress:
            progress.advance(overall, n)

    @contextlib.contextmanager
    def step(desc: str):
        if progress:
            progress.update(overall, description=desc)
        yield

    def on_progress(job) -> Callable[[str, int, int], None] | None:
        if not progress:
            return None
        name = os.path.basename(job.path)

        def cb(phase: str, done: int, total: int) -> None:
            progress.update(sub, description=f"  {name} {phase}", completed=done, total=total or None, visible=True)

        return cb

    results: list[PaperResult] = []
    for pap in papers:
        profiles: dict[str, dict] = {}
        rows: list[Row] = []
        pending: list[_Pending] = []
        for pm in pap.models:
            model_rows = [Row(pap.short_name, pm.zoo, pm.label, pm.role, f, p) for f, p in series]
            rows += model_rows
            try:
                with step(f"{pap.short_name}: {pm.zoo}: profile"):
                    prof = profile_zoo_model(pm.zoo)
                profiles[pm.zoo] = {"params": prof.params_total, "macs": prof.macs, "flops": prof.flops,
                                    "input_shape": prof.input_shape}
                for r in model_rows:
                    r.params, r.macs, r.flops, r.input_shape = prof.params_total, prof.macs, prof.flops, prof.input_shape
                advance()
                manifest: dict = {}
                if s.deployed_formats():
                    with step(f"{pap.short_name}: {pm.zoo}: convert"):
                        manifest = _convert_dir(outp, pm.zoo, s, step)
                advance()
            except Exception as exc:  # one model failing must not stop the others
                for r in model_rows:
                    r.error = r.error or _one_line(exc)
                advance(2 + len(series) - (1 if pm.zoo in profiles else 0))
                continue
            arts = {(a["format"], a["precision"]): a for a in manifest.get("artifacts", [])}
            failed = manifest.get("failed", [])
            for r in model_rows:
                if r.format == TORCH:
                    _bench_torch_row(r, pm.zoo, s, cache, outp, step, on_progress, f"{pap.short_name}: {pm.zoo}")
                    advance()
                    continue
                a = arts.get((r.format, r.precision))
                if a is None:
                    why = [f for f in failed if f.startswith(f"{r.format} ")]
                    r.error = why[0] if why else f"{r.format} {r.precision}: not produced by convert"
                    advance()
                    continue
                r.size_bytes, r.sha256 = a.get("size_bytes"), a.get("sha256")
                r.verification = list((a.get("verification") or {}).get("violations", []))
                row_id = f"{pm.zoo}_{r.format}_{r.precision}"
                key = {**s.bench_key(), "model": pm.zoo, "sha256": r.sha256,
                       **({"count_instructions": count_instructions} if count_instructions is not None else {})}
                rel = f"reports/{row_id}.json"
                rep = cache.get(row_id, key)
                if rep is not None:
                    r.cached, r.report = True, rel
                    _fill_from_report(r, rep)
                    advance()
                else:  # measured below, with the paper's other artifacts, repeats interleaved
                    pending.append(_Pending(r, str(outp / "artifacts" / pm.zoo / a["file"]), rel, row_id, key))
        with step(f"{pap.short_name}: bench {len(pending)} artifacts, repeats interleaved"):
            _bench_pending(pending, s, cache, outp, on_progress, count_instructions)
        advance(len(pending))
        conv = _paper_convention(pap, profiles)
        for r in rows:
            _published(r, pap.model(r.model), conv)
        results.append(PaperResult(
            id=pap.id, short_name=pap.short_name, title=pap.title, notes=pap.notes, flops_convention=conv,
            has_figures=any(pm.figures for pm in pap.models), rows=rows,
            claims=_check_claims(pap, rows, profiles, outp),
        ))
    if progress:
        progress.update(sub, visible=False)
        progress.update(overall, description="reproduce: done")
    if "int8" not in s.precisions:
        calib = "nothing (no int8 asked)"
    else:
        calib = f"the data in {calib_data}" if calib_data else "RANDOM inputs (no --calib-data given)"
    res = ReproduceResult(
        out_dir=str(outp), settings=s, target=target_summary, papers=results,
        command=command or "edgefer.reproduce.reproduce(...)", note=UNTRAINED_NOTE.format(calib=calib),
    )
    _write_outputs(res, outp, plot)
    return res


@dataclass
class _Pending:
    row: Row
    path: str
    rel: str
    row_id: str
    key: dict


def _bench_pending(pending: list[_Pending], s: Settings, cache: Any, outp: Path, on_progress: Any,
                   count_instructions: bool | None = None) -> None:
    """One bench_jobs call for a paper's artifacts, so their repeats interleave (A B C A B C ...) and
    slow drift hits all alike; a failing artifact keeps its error in its row, the others go on."""
    from edgefer.bench import _file_job, bench_jobs

    if not pending:
        return
    failures: dict[int, str] = {}
    try:
        jobs = [_file_job(p.path, p.row.precision) for p in pending]
        reports = bench_jobs(jobs, target=s.target, runs=s.runs, warmup=s.warmup, min_seconds=s.min_seconds,
                             threads=s.threads, energy=s.energy, repeat=s.repeat,
                             labels=[f"{p.row.model} {p.row.format} {p.row.precision}" for p in pending],
                             outs=[str(outp / p.rel) for p in pending], on_progress=on_progress, failures=failures,
                             count_instructions=count_instructions, aligned=True)
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
        _fill_from_report(p.row, rep)


# ---------------------------------------------------------------- outputs


def _num(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _pub(row: Row, metric: str, scale: float, digits: int) -> tuple[str, str]:
    """(published cell, ratio cell) for one metric; several figures are joined with ' / '."""
    figs = row.published.get(metric, [])
    if not figs:
        return "—", "—"
    pub = " / ".join(f"{f['value'] / scale:.{digits}f}" + (f" ({f['setting']}{', ' + f['dataset'] if f['dataset'] else ''})"
                                                          if metric in ("latency", "throughput", "energy") else "")
                     for f in figs)
    ratio = " / ".join("—" if f["ratio"] is None else f"x{f['ratio']:.2f}" + (
        f" ({f['ours_statistic']})" if f.get("ours_statistic") else "") for f in figs)
    return pub, ratio


# (our column, the published metric shown beside it or None, scale of the published value, digits)
_OURS = (
    ("params M", "params", 1e6, 2),
    ("M{conv}", "flops", 1e6, 0),
    ("size MB", "model_size", 1, 2),
    ("p50 ms", "latency", 1, 1),
    ("p90 ms", None, 1, 1),
    ("samples/s", "throughput", 1, 1),
    ("energy J", "energy", 1, 3),
)


_PUB_HEAD = {"params": "paper params M", "flops": "paper MFLOPs", "model_size": "paper MB", "latency": "paper ms",
             "throughput": "paper FPS", "energy": "paper J"}


def paper_table(p: PaperResult) -> tuple[list[str], list[list[str]]]:
    """Header and cells of one paper's table (terminal and Markdown). A "paper ..." and a "ratio"
    column follow each of our columns the paper publishes a figure for; the others are left out."""
    conv = p.flops_convention or "MACs"
    published = {m for r in p.rows for m in r.published}
    head = ["model", "format", "input"]
    for col, metric, _scale, _d in _OURS:
        head.append(col.replace("{conv}", conv))
        if metric in published:
            head += [_PUB_HEAD[metric], "ratio"]
    rows = []
    for r in p.rows:
        count = r.macs if conv == "MACs" else r.flops
        energy = _num(r.energy_j, 4) if r.energy_j is not None else (r.energy_status or "—")
        if r.energy_status == "estimated":
            energy += " (estimated)"
        p50 = _num(r.p50_ms, 3) + (" (emulated)" if r.emulated else "") + (" (cached)" if r.cached else "")
        if r.error:
            p50 = f"error: {r.error}" if r.p50_ms is None else f"{p50} ({r.error})"
        ours = {
            "params M": _num(r.params / 1e6 if r.params else None),
            "M{conv}": _num(count / 1e6 if count else None, 1),
            "size MB": _num(r.size_bytes / 1e6 if r.size_bytes else None, 3),
            "p50 ms": p50,
            "p90 ms": _num(r.p90_ms, 3),
            "samples/s": _num(r.throughput_sps, 1),
            "energy J": energy,
        }
        cells = [r.model, f"{r.format} {r.precision}" if r.format else "—",
                 "x".join(map(str, r.input_shape[1:])) if r.input_shape else "—"]
        for col, metric, scale, digits in _OURS:
            cells.append(ours[col])
            if metric in published:
                cells += list(_pub(r, metric, scale, digits))
        rows.append(cells)
    from edgefer.instructions import add_reproduce_column

    add_reproduce_column(head, rows, [r.instructions for r in p.rows])
    return head, rows


def claim_line(c: ClaimCheck) -> str:
    exp = f"paper's own table implies x{c.expected_ratio:.3f}; " if c.expected_ratio else ""
    meas = "—" if c.measured_ratio is None else f"x{c.measured_ratio:.3f}"
    if c.ci_low is not None:
        from edgefer.compare import format_p

        meas += f" [95% CI {c.ci_low:.3f}-{c.ci_high:.3f}, Mann-Whitney {format_p(c.p_value)}]"
    what = f"{c.subject}/{c.reference} {c.metric}" + (f" ({c.series})" if c.series else "")
    emu = " on the EMULATED board: says nothing about real hardware" if c.emulated else ""
    return f"{c.statement} — {what}: {exp}measured {meas} -> **{c.outcome}**{emu} ({c.source})"


def to_markdown(res: ReproduceResult) -> str:
    t = res.target or {}
    lines = [f"# edgefer reproduce — target `{res.settings.target}`", ""]
    lines += [f"Command: `{res.command}`", ""]
    if t:
        lines += [f"Target: {t.get('name')} ({t.get('board') or 'board n/a'}, {t.get('arch')}, {t.get('transport')})"
                  + (" — EMULATED: timings are not those of real hardware" if any(r.emulated for p in res.papers for r in p.rows) else ""), ""]
    lines += [res.note, "",
              "Ours: params/MACs/FLOPs at the zoo model's default input, batch 1; latency = per-sample p50/p90, the mean over "
              "repeats (separate runner processes) of each repeat's; ratio = ours / published. Published figures come from benchmarks/papers.yaml with their "
              "source; their hardware differs from this target, so latency ratios compare machines, not only models.", ""]
    for p in res.papers:
        lines += [f"## {p.short_name} — {p.title}", "", f"Seed `{p.id}`. {p.notes}", ""]
        if p.flops_convention:
            lines += [f"The paper's \"FLOPs\" match our **{p.flops_convention}** "
                      f"({'multiply-accumulates' if p.flops_convention == 'MACs' else '2 x MACs'}); that column uses them.", ""]
        else:
            lines += ["The paper prints no FLOPs figure; the count column shows our MACs.", ""]
        head, body = paper_table(p)
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
        lines.append("")
        energy = sorted({f"{r.energy_status}: {r.energy_reason}" for r in p.rows if r.energy_reason})
        if energy:
            lines += ["Energy: " + "; ".join(energy), ""]
        srcs = sorted({f"{f['source']}: \"{f['quote']}\"" for r in p.rows for figs in r.published.values() for f in figs})
        if srcs:
            lines += ["Sources of the published figures:", ""] + [f"- {s}" for s in srcs] + [""]
        if p.claims:
            lines += ["Claims:", ""] + [f"- {claim_line(c)}" for c in p.claims] + [""]
        errs = [f"{r.model} {r.format} {r.precision}: {v}" for r in p.rows for v in r.verification]
        if errs:
            lines += ["Conversion verification failures:", ""] + [f"- {e}" for e in errs] + [""]
    return "\n".join(lines)


def chart_points(res: ReproduceResult) -> list[dict]:
    pts = []
    for p in res.papers:
        conv = p.flops_convention or "MACs"
        for r in p.rows:
            count = r.macs if conv == "MACs" else r.flops
            if r.p50_ms and count and not r.error:
                pts.append({"label": r.model, "series": f"{r.format} {r.precision}", "mflops": count / 1e6, "ms": r.p50_ms})
    return pts


def _write_outputs(res: ReproduceResult, out: Path, plot: bool) -> None:

    res.files = {"results": str(out / "results.json"), "table": str(out / "table.md")}
    if plot:
        pts = chart_points(res)
        if pts:
            from edgefer.plots import plot_latency_vs_flops

            convs = {p.flops_convention or "MACs" for p in res.papers}
            title = (f"{', '.join(p.short_name for p in res.papers)} on {res.settings.target}: "
                     f"ms/sample vs M{'/'.join(sorted(convs))} (untrained models)")
            xlabel = f"M{'/'.join(sorted(convs))} (ours, in the convention matching the paper's 'FLOPs')"
            res.files["chart"] = plot_latency_vs_flops(pts, str(out / "chart.png"), title, xlabel)
    write_text_atomic(out / "table.md", to_markdown(res))
    write_json_atomic(str(out / "results.json"), res.to_dict())


def command_line() -> str:
    return "edgefer " + " ".join(shlex.quote(a) for a in sys.argv[1:])
