"""`reproduce()`: the library function behind `edgefer reproduce` (see the package docstring)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable

from edgefer.bench.cache import one_line
from edgefer.errors import EdgeferError
from edgefer.reproduce.claims import attach_published, check_claims, paper_convention
from edgefer.reproduce.measuring import (
    Cache,
    Pending,
    bench_pending,
    bench_torch_row,
    convert_dir,
    fill_from_report,
)
from edgefer.reproduce.papers import Paper, load_papers
from edgefer.reproduce.records import TORCH, UNTRAINED_NOTE, PaperResult, ReproduceResult, Row, Settings
from edgefer.reproduce.tables import write_outputs
from edgefer.runner.settings import BenchSettings


def reproduce(
    paper: str,
    settings: BenchSettings | None = None,
    *,
    target: str = "local",
    formats: tuple[str, ...] = ("onnx", "tflite"),
    precisions: tuple[str, ...] = ("fp32", "int8"),
    out: str | Path = "reproduce-out",
    calib_data: str | None = None,
    papers_path: str | Path | None = None,
    use_cache: bool = True,
    plot: bool = True,
    progress: Any = None,
    command: str | None = None,
    repeat: int | None = None,
) -> ReproduceResult:
    """Measure every model of `paper` (seed id, short name or "all"); write results.json, table.md, chart.png.

    `settings`: what every bench measures (unset fields: the target profile's `bench:` defaults), as
    for `edgefer.bench.bench`. `progress`: a rich.progress.Progress (or None) that gets one overall
    task across the run.
    """
    bench = settings or BenchSettings()
    _check_options(formats, precisions, bench, calib_data, repeat)
    papers = load_papers(papers_path).select(paper)
    target_summary = None
    try:
        from edgefer.targets import load_target

        target_summary = load_target(target).summary()
    except ImportError:
        pass
    s = Settings(target=target, formats=tuple(formats), precisions=tuple(precisions), calib_data=calib_data,
                 repeat=repeat, bench=bench)
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    cache = Cache(outp, enabled=use_cache)
    # units of work: profile + convert per model, one bench per series
    prog = _RunProgress(progress, sum(len(p.models) for p in papers) * (2 + len(s.series())))
    results = [_reproduce_paper(pap, s, cache, outp, prog) for pap in papers]
    prog.done()
    if "int8" not in s.precisions:
        calib = "nothing (no int8 asked)"
    else:
        calib = f"the data in {calib_data}" if calib_data else "RANDOM inputs (no --calib-data given)"
    res = ReproduceResult(
        out_dir=str(outp), settings=s, target=target_summary, papers=results,
        command=command or "edgefer.reproduce.reproduce(...)", note=UNTRAINED_NOTE.format(calib=calib),
    )
    write_outputs(res, outp, plot)
    return res


def _check_options(formats, precisions, bench: BenchSettings, calib_data, repeat) -> None:
    """Every value checked before the first conversion (unset bench values come from the profile)."""
    from edgefer.bench.request import check_repeat, check_request
    from edgefer.convert.api import FORMATS, PRECISIONS

    for value, allowed, flag in ((formats, (TORCH, *FORMATS), "--formats"), (precisions, PRECISIONS, "--precisions")):
        bad = [v for v in value if v not in allowed]
        if bad or not value:
            raise EdgeferError(f"{flag} {','.join(value)!s} invalid", hint=f"choose from {', '.join(allowed)}")
    check_request(bench)
    if calib_data and not os.path.exists(calib_data.rsplit(":", 1)[0] if not os.path.exists(calib_data) else calib_data):
        raise EdgeferError(f"--calib-data {calib_data}: not found")
    if repeat is not None:
        check_repeat(repeat)


class _RunProgress:
    """One overall task across the run and a sub-task for the bench in flight (rich, or nothing)."""

    def __init__(self, progress: Any, total: int) -> None:
        self.progress = progress
        self.overall = progress.add_task("reproduce", total=total) if progress else None
        self.sub = progress.add_task("", total=None, visible=False) if progress else None

    def advance(self, n: int = 1) -> None:
        if self.progress:
            self.progress.advance(self.overall, n)

    @contextlib.contextmanager
    def step(self, desc: str):
        if self.progress:
            self.progress.update(self.overall, description=desc)
        yield

    def on_progress(self, job) -> Callable[[str, int, int], None] | None:
        if not self.progress:
            return None
        name = os.path.basename(job.path)

        def cb(phase: str, done: int, total: int) -> None:
            self.progress.update(self.sub, description=f"  {name} {phase}", completed=done, total=total or None,
                                 visible=True)

        return cb

    def done(self) -> None:
        if self.progress:
            self.progress.update(self.sub, visible=False)
            self.progress.update(self.overall, description="reproduce: done")


def _reproduce_paper(pap: Paper, s: Settings, cache: Cache, outp: Path, prog: _RunProgress) -> PaperResult:
    """Profile and convert each model, bench every artifact the cache does not hold (in one
    interleaved run), then put the published figures beside ours and check the claims."""
    profiles: dict[str, dict] = {}
    rows: list[Row] = []
    pending: list[Pending] = []
    for pm in pap.models:
        model_rows = [Row(pap.short_name, pm.zoo, pm.label, pm.role, f, p) for f, p in s.series()]
        rows += model_rows
        pending += _measure_model(pap, pm.zoo, model_rows, s, cache, outp, prog, profiles)
    with prog.step(f"{pap.short_name}: bench {len(pending)} artifacts, repeats interleaved"):
        bench_pending(pending, s, cache, outp, prog.on_progress)
    prog.advance(len(pending))
    conv = paper_convention(pap, profiles)
    for r in rows:
        attach_published(r, pap.model(r.model), conv)
    return PaperResult(id=pap.id, short_name=pap.short_name, title=pap.title, notes=pap.notes, flops_convention=conv,
                       has_figures=any(pm.figures for pm in pap.models), rows=rows,
                       claims=check_claims(pap, rows, profiles, outp))


def _measure_model(pap: Paper, model: str, model_rows: list[Row], s: Settings, cache: Cache, outp: Path,
                   prog: _RunProgress, profiles: dict[str, dict]) -> list[Pending]:
    """One model's rows: profile, convert, PyTorch eager, cached reports; -> the artifacts left to bench.
    A model that fails keeps the error in its rows; the others go on."""
    from edgefer.zoo.profile import profile_zoo_model

    what = f"{pap.short_name}: {model}"
    try:
        with prog.step(f"{what}: profile"):
            prof = profile_zoo_model(model)
        profiles[model] = {"params": prof.params_total, "macs": prof.macs, "flops": prof.flops,
                           "input_shape": prof.input_shape}
        for r in model_rows:
            r.params, r.macs, r.flops, r.input_shape = prof.params_total, prof.macs, prof.flops, prof.input_shape
        prog.advance()
        manifest: dict = {}
        if s.deployed_formats():
            with prog.step(f"{what}: convert"):
                manifest = convert_dir(outp, model, s, prog.step)
        prog.advance()
    except Exception as exc:  # one model failing must not stop the others
        for r in model_rows:
            r.error = r.error or one_line(exc)
        prog.advance(2 + len(model_rows) - (1 if model in profiles else 0))
        return []
    arts = {(a["format"], a["precision"]): a for a in manifest.get("artifacts", [])}
    failed = manifest.get("failed", [])
    pending = []
    for r in model_rows:
        if r.format == TORCH:
            bench_torch_row(r, model, s, cache, outp, prog.step, prog.on_progress, what)
            prog.advance()
            continue
        a = arts.get((r.format, r.precision))
        if a is None:
            why = [f for f in failed if f.startswith(f"{r.format} ")]
            r.error = why[0] if why else f"{r.format} {r.precision}: not produced by convert"
            prog.advance()
            continue
        r.size_bytes, r.sha256 = a.get("size_bytes"), a.get("sha256")
        r.verification = list((a.get("verification") or {}).get("violations", []))
        row_id = f"{model}_{r.format}_{r.precision}"
        counting = s.bench.count_instructions  # counted and timed-only rows are different measurements
        key = {**s.bench_key(), "model": model, "sha256": r.sha256,
               **({"count_instructions": counting} if counting is not None else {})}
        rel = f"reports/{row_id}.json"
        rep = cache.get(row_id, key)
        if rep is not None:
            r.cached, r.report = True, rel
            fill_from_report(r, rep)
            prog.advance()
        else:  # measured with the paper's other artifacts, repeats interleaved
            pending.append(Pending(r, str(outp / "artifacts" / model / a["file"]), rel, row_id, key))
    return pending
