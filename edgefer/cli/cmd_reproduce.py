"""`edgefer reproduce`: a paper's efficiency table rebuilt on a target, beside the published figures."""

from __future__ import annotations

import contextlib
from typing import Optional

import typer

from edgefer.runner.settings import BenchSettings


def _split(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def reproduce(
    paper: str = typer.Argument(..., help="Seed id (000_2f938d631e59cb84, or its prefix 000), short name "
        "(mobilenetv3-ca-dka, mobilenet-mha, ctan, dcrnet, resnet50-cbam) or all."),
    target: str = typer.Option("local", "--target", "-t", help="Target profile name (targets/NAME.yaml) or path."),
    formats: str = typer.Option("onnx,tflite", "--formats", help="Comma-separated: torch (PyTorch eager on "
        "the host, fp32), onnx, tflite."),
    precisions: str = typer.Option("fp32,int8", "--precisions", help="Comma-separated: fp32, int8."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output directory (default: "
        "reproduce-PAPER). Also the cache: rerunning resumes."),
    runs: Optional[int] = typer.Option(None, "--runs", help="Timed runs per artifact (default: the target profile's)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Warm-up runs (default: the target profile's)."),
    repeat: Optional[int] = typer.Option(None, "--repeat", "-r", help="Repeats per artifact: independent "
        "runner processes (default: the target profile's); claims need >= 2."),
    min_seconds: Optional[float] = typer.Option(None, "--min-seconds", help="Keep timing until this many "
        "seconds have passed (default: the target profile's)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Runtime threads (default: the target profile's)."),
    energy: str = typer.Option(BenchSettings.default("energy"), "--energy", help="auto (the target's meter "
        "if present), measure, estimate or none."),
    calib_data: Optional[str] = typer.Option(None, "--calib-data", help="int8 calibration data (FER2013 "
        "CSV, class folder, .npy). Without it int8 is calibrated on random inputs."),
    papers_file: Optional[str] = typer.Option(None, "--papers", help="Published figures (default: the bundled papers.yaml)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Measure again even rows already measured with "
        "the same settings and artifact."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Write chart.png (ms/sample vs MFLOPs; needs matplotlib)."),
    count_instructions: Optional[bool] = typer.Option(
        None, "--count-instructions/--no-count-instructions",
        help="Emulated targets: add guest instructions per inference beside the emulated timings (default: the profile's)."),
) -> None:
    """Rebuild a paper's efficiency table on the target in front of you and show where it agrees with the paper.

    For each model of the paper and each format/precision: params and MACs/FLOPs (in the convention that
    matches the paper), artifact size, ms/sample p50 and p90, throughput and energy per inference (where
    the target has a meter), each beside the published figure with the ratio ours/published; the paper's
    efficiency claims are checked against the measurements.

    Writes OUT/table.md, OUT/results.json, OUT/chart.png and one bench report per row in OUT/reports/.
    Resumable: rows already measured with the same settings and artifact hash are reused. Models are
    untrained (random weights): efficiency does not depend on them.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from edgefer.reproduce import command_line
    from edgefer.reproduce import reproduce as run_reproduce

    console = Console(stderr=True)
    out_dir = out or f"reproduce-{paper}"
    bar = (Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False) if console.is_terminal else contextlib.nullcontext())
    settings = BenchSettings(runs=runs, warmup=warmup, min_seconds=min_seconds, threads=threads, energy=energy,
                             count_instructions=count_instructions)
    with bar as progress:  # progress only on a TTY
        res = run_reproduce(
            paper, settings, target=target, formats=_split(formats), precisions=_split(precisions), out=out_dir,
            calib_data=calib_data, repeat=repeat, papers_path=papers_file, use_cache=not no_cache, plot=plot,
            progress=progress, command=command_line(),
        )
    _show(res, target, out_dir)


def _show(res, target: str, out_dir: str) -> None:
    """Each paper's table and claims on stdout, then the files written; exit 1 if any row failed."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from edgefer.reproduce import claim_line, paper_table

    stdout = Console()
    if not stdout.is_terminal:  # piped or logged: do not squeeze the table into 80 columns
        stdout = Console(width=200)
    for p in res.papers:
        caption = f"paper's FLOPs = our {p.flops_convention}" if p.flops_convention else "no published FLOPs; counts are our MACs"
        if not p.has_figures:
            caption = "this paper publishes no efficiency figures"
        t = Table(title=f"{p.short_name} ({p.id}) on {target}", caption=caption)
        head, body = paper_table(p)
        for col in head:
            t.add_column(escape(col), justify="left" if col in ("model", "format", "input") else "right")
        for row in body:
            t.add_row(*(escape(c) for c in row))
        stdout.print(t)
        for c in p.claims:
            stdout.print("claim: " + claim_line(c).replace("**", ""), markup=False, highlight=False)
    stdout.print(res.note, style="dim", markup=False)
    for name, path in res.files.items():
        stdout.print(f"{name}: {path}", markup=False, highlight=False)
    rows = [r for p in res.papers for r in p.rows]
    failed = [r for r in rows if r.error]
    if failed:
        from edgefer.errors import SomeFailed

        first = failed[0]
        raise SomeFailed(f"{len(failed)} of {len(rows)} rows failed (kept in {res.files.get('results', out_dir)}); "
                         f"first: {first.model} {first.format} {first.precision}: {first.error}")


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce)
