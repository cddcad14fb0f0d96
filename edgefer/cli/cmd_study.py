"""`edgefer study STUDY.yaml`: your models and baselines on every board, as paper-ready tables."""

from __future__ import annotations

from typing import Optional

import typer


def study(
    spec: str = typer.Argument(..., help="STUDY.yaml: models, formats/precisions, data, targets (profiles "
        "or labgrid places), bench settings, out."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output directory (default: the spec's "
        "`out`). Also the cache: rerunning resumes."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Measure every cell again, even those already "
        "measured with the same settings."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Write latency_vs_macs.png and "
        "latency_bars.png (needs matplotlib)."),
    concurrent: Optional[bool] = typer.Option(None, "--concurrent/--serial", help="Different boards at the "
        "same time (default: the spec's bench.concurrent) or one after another."),
) -> None:
    """Run a study: convert each model once, bench every cell on every target (one worker per board,
    repeats interleaved), write table.tex/.md/.csv, results.json and plots.

    Exit 0: every cell measured. Exit 1: some cells failed (kept with their error; the others are in the
    tables). Exit 2: bad input, or the study stopped (place held past its timeout, coordinator
    unreachable, disk full) after writing the finished cells.
    """
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from edgefer.reproduce import command_line
    from edgefer.study import run_study
    from edgefer.study.tables import HEAD, rows

    err = Console(stderr=True)
    if err.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            run = run_study(spec, out=out, use_cache=not no_cache, plot=plot, progress=progress,
                            command=command_line(), concurrent=concurrent)
    else:
        run = run_study(spec, out=out, use_cache=not no_cache, plot=plot, command=command_line(), concurrent=concurrent)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    t = Table(title=run.result.get("name") or "edgefer study")
    for col in HEAD:
        t.add_column(escape(col), justify="left" if col in ("Target", "Model", "Format") else "right")
    for r in rows(run.result):
        latency = r["latency"] if not r["failed"] else f"{r['latency']} [red]failed: {escape(r['error'] or '')}[/]"
        t.add_row(escape(r["target"] + (" (emulated)" if r["emulated"] else "")), escape(r["model"]),
                  escape(r["format"]), r["params"], r["macs"], latency if r["failed"] else escape(latency),
                  r["memory"], r["energy"] + (" (estimated)" if r["estimated"] else ""))
    console.print(t)
    for note in run.result.get("notes", []):
        console.print(note, style="dim", markup=False, highlight=False)
    console.print(f"{run.measured} repeat reports measured now, the rest from the cache; {run.wall_s:.1f} s",
                  markup=False, highlight=False)
    for name, path in run.files.items():
        console.print(f"{name}: {path}", markup=False, highlight=False)
    if run.failed:
        typer.echo(f"error: {len(run.failed)} of {len(run.cells)} cells failed (see {run.files.get('results')})", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("study")(study)
