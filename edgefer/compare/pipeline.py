"""`edgefer compare` for pipeline reports: stage by stage, p50 and p99 of every stage and of the
end-to-end time, with a 95% interval of the p50 ratio that includes the variance between runs
(host side).

The interval is bench's (edgefer.runner.hierarchical): a two-level bootstrap over the reports'
repeats (separate runner processes) and the frames within them, Student's t on the repeats'
degrees of freedom, plus the target's between-session drift (`bench.session_cv`). A report with
one repeat has no between-run estimate: its rows get no verdict and a gate on it exits 2, unless
`--within-run` (a percentile bootstrap of the frames alone; expect false alarms).

Verdict per stage: faster / slower when the interval excludes 1, else "no significant change".
With a threshold, end-to-end (and, in paced runs, arrival-to-result) p50 worse by more than the
threshold even at the interval's favourable end is a regression (edgefer.compare.gate: exit 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgefer.compare.gate import Gated, check_threshold, excess
from edgefer.errors import EdgeferError
from edgefer.pipeline.repeats import frames_by_repeat
from edgefer.report.pipeline import STAGES, PipelineReport, read_json, validate_pipeline_report

N_RESAMPLES = 2000
_SEED = 20261201
MIN_FRAMES = 5
INTERVAL_NOTE = ("ratios: p50 / baseline p50 (mean over repeats of each repeat's p50); [lo, hi]: 95% interval "
                 "(two-level bootstrap: repeats, then frames; Student's t; plus the target's session drift)")
ROWS = (*STAGES, "e2e", "glue", "latency")  # latency: arrival -> result, paced runs only
GATED = ("e2e", "latency")


@dataclass
class StageComparison:
    stage: str
    baseline_p50_ms: float | None
    p50_ms: float | None
    baseline_p99_ms: float | None
    p99_ms: float | None
    ratio: float | None = None  # p50 / baseline p50
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: str = "n/a"
    method: str | None = None  # "repeats" | "within-run only (between-run variance ignored)"
    undecided: bool = False  # no verdict for want of repeats


@dataclass
class PipelineComparison(Gated):
    baseline: str
    labels: list[str]
    stages: dict[str, list[StageComparison]]  # label -> rows (baseline absent)
    facts: dict[str, dict[str, Any]]  # label -> throughput, faces/frame, deadline misses, ...
    warnings: list[str]
    threshold: float | None = None
    regressions: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)  # gated rows without a verdict (one repeat)
    UNDECIDED = ("not enough repeats to judge the pipeline",
                 "run edgefer pipeline with --repeat >= 2 (the default when free-running), "
                 "or pass --within-run to judge on within-run variance only")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "edgefer.pipeline.compare", **asdict(self)}

    def _cells(self, row: StageComparison) -> list[str]:
        def f(v: float | None) -> str:
            return "—" if v is None else f"{v:.3f}"

        ratio = "—" if row.ratio is None else f"x{row.ratio:.3f}" + (
            f" [{row.ci_low:.3f}, {row.ci_high:.3f}]" if row.ci_low is not None else "")
        return [f(row.baseline_p50_ms), f(row.p50_ms), ratio, f(row.baseline_p99_ms), f(row.p99_ms), row.verdict]

    def markdown(self) -> str:
        out = []
        for label, rows in self.stages.items():
            out += [f"**{label}** vs **{self.baseline}** (baseline)", "",
                    "| stage | base p50 ms | p50 ms | p50 ratio [95% CI] | base p99 ms | p99 ms | verdict |",
                    "|---|---:|---:|---|---:|---:|---|"]
            out += ["| " + " | ".join([r.stage, *self._cells(r)]) + " |" for r in rows]
            out.append("")
        out += ["| report | frames/s | faces/frame | deadline misses | emulated |", "|---|---:|---:|---:|---|"]
        for label in self.labels:
            f = self.facts[label]
            out.append(f"| {label} | {_num(f['throughput_fps'], 1)} | {_num(f['faces_per_frame'], 2)} | "
                       f"{f['deadline_misses'] if f['deadline_misses'] is not None else '—'} | {f['emulated']} |")
        out.append(f"- {INTERVAL_NOTE}")
        out += [f"- warning: {w}" for w in self.warnings]
        out += [f"- **regression**: {r}" for r in self.regressions]
        return "\n".join(out) + "\n"

    def render(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        for label, rows in self.stages.items():
            t = Table(title=f"pipeline stages: {label} vs {self.baseline} (baseline)")
            for col in ("stage", "base p50 ms", "p50 ms", "p50 ratio [95% CI]", "base p99 ms", "p99 ms", "verdict"):
                t.add_column(col, justify="left" if col in ("stage", "verdict") else "right")
            for r in rows:
                style = "red" if r.verdict == "slower" else "green" if r.verdict == "faster" else None
                t.add_row(r.stage, *self._cells(r), style=style)
            console.print(t)
        t = Table(title="pipeline runs")
        for col in ("report", "frames/s", "faces/frame", "deadline misses", "emulated"):
            t.add_column(col)
        for label in self.labels:
            f = self.facts[label]
            t.add_row(label, _num(f["throughput_fps"], 1), _num(f["faces_per_frame"], 2),
                      "—" if f["deadline_misses"] is None else str(f["deadline_misses"]), str(f["emulated"]))
        console.print(t)
        console.print(INTERVAL_NOTE, style="dim", markup=False, highlight=False)
        for w in self.warnings:
            console.print(f"warning: {w}", style="yellow", markup=False, highlight=False)


def _num(v: float | None, digits: int) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _samples_ms(r: PipelineReport, stage: str) -> np.ndarray:
    cols = r.frames or {}
    if stage == "latency":
        if r.paced is None or "end_ns" not in cols:
            return np.zeros(0)
        ns = np.asarray(cols["end_ns"], np.int64) - np.asarray(cols["arrival_ns"], np.int64)
    elif stage == "glue":
        if "e2e_ns" not in cols:
            return np.zeros(0)
        ns = (np.asarray(cols["e2e_ns"], np.int64) - np.asarray(cols["detect_runtime_ns"], np.int64)
              - np.asarray(cols["classify_runtime_ns"], np.int64) - np.asarray(cols["acquire_ns"], np.int64))
    else:
        ns = np.asarray(cols.get(f"{stage}_ns", []), np.int64)
    return ns.astype(np.float64) / 1e6


def _within_run_ci(base: np.ndarray, other: np.ndarray) -> tuple[float, float] | None:
    """The explicit opt-in without repeats: percentile interval of a bootstrap of the frames."""
    rng = np.random.default_rng(_SEED)
    b = np.median(rng.choice(base, (N_RESAMPLES, base.size)), axis=1)
    o = np.median(rng.choice(other, (N_RESAMPLES, other.size)), axis=1)
    ok = b > 0
    if not ok.any():
        return None
    lo, hi = np.percentile(o[ok] / b[ok], [2.5, 97.5])
    return float(lo), float(hi)


def _session_cv(r: PipelineReport) -> float:
    return float((r.between_repeats.session_cv if r.between_repeats else None) or 0.0)


def _stage_row(base: PipelineReport, other: PipelineReport, stage: str, labels: tuple[str, str],
               within_run: bool) -> StageComparison:
    from edgefer.runner.hierarchical import bootstrap, point_estimate, ratio_interval

    bg = frames_by_repeat(base.frames, _samples_ms(base, stage))
    og = frames_by_repeat(other.frames, _samples_ms(other, stage))
    pb = point_estimate(bg, ("p50", "p99")) if bg else None
    po = point_estimate(og, ("p50", "p99")) if og else None
    row = StageComparison(stage, *(None if pb is None else float(pb[0]), None if po is None else float(po[0]),
                                   None if pb is None else float(pb[1]), None if po is None else float(po[1])))
    if pb is None and po is None:
        row.verdict = "n/a (no samples)"
    if not row.baseline_p50_ms or row.p50_ms is None:
        return row
    row.ratio = row.p50_ms / row.baseline_p50_ms
    if min(sum(g.size for g in bg), sum(g.size for g in og)) < MIN_FRAMES:
        row.verdict = f"n/a (fewer than {MIN_FRAMES} frames)"
        return row
    if len(bg) >= 2 and len(og) >= 2:
        db = bootstrap(bg, ("p50",), seed=_SEED)
        do = bootstrap(og, ("p50",), seed=_SEED + 1)
        if (db <= 0).any() or (do <= 0).any():  # a stage that costs 0 in some resample: no log-scale SE
            row.verdict = "n/a (zero times)"
            return row
        lo, hi = ratio_interval(np.array([row.ratio]), db, len(bg), do, len(og), _session_cv(base), _session_cv(other))
        ci, row.method = (float(lo[0]), float(hi[0])), "repeats"
    elif within_run:
        ci, row.method = _within_run_ci(np.concatenate(bg), np.concatenate(og)), \
            "within-run only (between-run variance ignored)"
        if ci is None:
            row.verdict = "n/a (zero times)"
            return row
    else:
        one = labels[0] if len(bg) < 2 else labels[1]
        row.verdict, row.undecided = f"n/a (one repeat in {one}: between-run variance unknown)", True
        return row
    row.ci_low, row.ci_high = ci
    row.verdict = "slower" if ci[0] > 1 else "faster" if ci[1] < 1 else "no significant change"
    return row


def _facts(r: PipelineReport) -> dict[str, Any]:
    s = r.statistics
    return {"throughput_fps": s.throughput_fps if s else None, "faces_per_frame": s.faces_per_frame.mean if s else None,
            "deadline_misses": r.paced.deadline_misses if r.paced else None,
            "achieved_fps": r.paced.achieved_fps if r.paced else None, "emulated": r.environment.emulated,
            "partial": r.partial}


def _warnings(base: PipelineReport, other: PipelineReport, bl: str, ol: str) -> list[str]:
    w = []
    if base.environment.emulated != other.environment.emulated:
        w.append(f"{ol} and {bl} differ in emulation (emulated vs native): stage times are not comparable")
    if base.environment.cpu_model != other.environment.cpu_model:
        w.append(f"CPU differs: {bl} {base.environment.cpu_model!r}, {ol} {other.environment.cpu_model!r}")
    if base.source.spec != other.source.spec:
        w.append(f"sources differ: {bl} {base.source.spec}, {ol} {other.source.spec}")
    if base.settings.resize != other.settings.resize:
        w.append(f"resize backends differ: {bl} {base.settings.resize}, {ol} {other.settings.resize}")
    if base.settings.heap != other.settings.heap:  # page faults per frame or not: the glue differs
        w.append(f"runner heaps differ: {bl} {base.settings.heap or 'not recorded'}, "
                 f"{ol} {other.settings.heap or 'not recorded'}")
    for r, label in ((base, bl), (other, ol)):
        if r.partial:
            w.append(f"{label} is PARTIAL: {r.partial_reason}")
    return w


def compare_pipeline_reports(items: list[str | dict], baseline: str | None = None,
                             threshold: float | None = None, within_run: bool = False) -> PipelineComparison:
    """Compare pipeline reports (paths or dicts) stage by stage against a baseline (default: the first)."""
    if len(items) < 2:
        raise EdgeferError("compare needs at least two reports")
    check_threshold(threshold)
    reps, labels = [], []
    for k, item in enumerate(items):
        data = read_json(item) if not isinstance(item, dict) else item
        if data.get("kind") != "edgefer.pipeline.report":
            raise EdgeferError(f"cannot compare a pipeline report with a {data.get('kind') or 'non-edgefer'} report "
                               f"({item if not isinstance(item, dict) else f'report {k + 1}'})")
        rep = validate_pipeline_report(data, f"pipeline report {item if not isinstance(item, dict) else k + 1}")
        reps.append(rep)
        label = rep.label or (str(item) if not isinstance(item, dict) else f"report {k + 1}")
        labels.append(label if label not in labels else f"{label} #{k + 1}")
    if baseline is None:
        bi = 0
    elif baseline in labels:
        bi = labels.index(baseline)
    elif baseline in [str(i) for i in items]:
        bi = [str(i) for i in items].index(baseline)
    else:
        raise EdgeferError(f"--baseline {baseline!r} is none of the reports (labels: {', '.join(labels)})")
    base, bl = reps[bi], labels[bi]
    cmp = PipelineComparison(bl, labels, {}, {label: _facts(r) for label, r in zip(labels, reps)}, [], threshold)
    for r, label in zip(reps, labels):
        if label == bl:
            continue
        rows = [_stage_row(base, r, s, (bl, label), within_run) for s in ROWS
                if not (s == "latency" and (base.paced is None or r.paced is None))]
        cmp.stages[label] = rows
        cmp.warnings += _warnings(base, r, bl, label)
        if threshold is not None:
            for row in rows:
                # a row without an interval has no verdict to gate on
                worse_by = excess(row.ratio, row.ci_low, row.ci_high) if row.ci_low is not None else None
                if row.stage in GATED and cmp.regressed(worse_by):
                    cmp.regressions.append(f"{label} {row.stage} p50 x{row.ratio:.3f} (CI low {row.ci_low:.3f})")
                elif row.stage in GATED and row.undecided:
                    cmp.undecided.append(f"{label} {row.stage}: {row.verdict}")
    return cmp


def compare_if_pipeline(items: list[str], baseline: str | None, threshold: float | None, markdown: bool,
                        json_out: str | None, plot: str | None, within_run: bool = False) -> bool:
    """`edgefer compare` hook: when the first report is a pipeline report, compare stage by stage
    (print, --json, gate) and return True; False leaves bench reports to edgefer.compare.reports."""
    import os

    first = items[0] if items else None
    if first is None or not os.path.isfile(first):
        return False
    try:
        import json

        with open(first) as f:
            kind = json.load(f).get("kind")
    except (OSError, ValueError, AttributeError):
        return False
    if kind != "edgefer.pipeline.report":
        return False
    if plot:
        raise EdgeferError("--plot is for bench reports; a pipeline run draws its timeline with `edgefer pipeline --plot`")
    cmp = compare_pipeline_reports(list(items), baseline=baseline, threshold=threshold, within_run=within_run)
    import typer

    if markdown:
        typer.echo(cmp.markdown(), nl=False)
    else:
        cmp.render()
    if json_out:
        from edgefer.runner.files import write_json_atomic

        write_json_atomic(json_out, cmp.to_dict())
    cmp.check_gate()
    return True
