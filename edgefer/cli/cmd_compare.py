"""`edgefer compare`: bench reports side by side, with statistics and a CI gate."""

from __future__ import annotations

from typing import Optional

import typer

from edgefer.compare.gate import parse_threshold  # the gate's threshold rule, here for the command line

__all__ = ["compare", "parse_threshold", "register"]


def compare(
    reports: list[str] = typer.Argument(..., help="Bench report JSON files (from `edgefer bench`), two or more."),
    baseline: Optional[str] = typer.Option(
        None, "--baseline", "-b", help="The report the others are compared to: its path or label (default: the first)."
    ),
    fail_on_regression: Optional[str] = typer.Option(
        None, "--fail-on-regression", metavar="PCT",
        help="Exit 1 when a metric is significantly worse than the baseline by more than PCT (e.g. 5%). For CI gates.",
    ),
    within_run: bool = typer.Option(
        False, "--within-run",
        help="Judge reports with a single repeat on their within-run interval (ignores between-run variance: "
             "expect false alarms). Without it, latency of a 1-repeat report gets no verdict and a gate on it exits 2.",
    ),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="PNG",
                                       help="Write latency CDFs and percentile bars (matplotlib)."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table (for PR comments) instead of a rich table."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="PATH", help="Also write the comparison as JSON."),
) -> None:
    """Compare bench reports: p50/p90/p99 per sample, throughput, memory, energy, size, ratios vs baseline.

    Latency ratios come with a 95% interval from a two-level bootstrap (repeats, then samples within them), so
    between-run variance is included; "faster"/"slower" only when the interval excludes 1.

    Warns when the environments differ (emulated vs native, runtime versions, threads, batch size, CPU model)
    or the reports are of different models or inputs.

    With --fail-on-regression T, exit 1 only when a metric is worse by more than T even at the interval's
    favourable end (significantly worse by more than T). Reports with one repeat: exit 2 (not enough repeats
    to judge) unless --within-run.
    """
    from rich.console import Console

    from edgefer.compare.reports import compare_reports

    threshold = parse_threshold(fail_on_regression) if fail_on_regression is not None else None
    from edgefer.compare.pipeline import compare_if_pipeline  # pipeline reports: stage by stage

    if compare_if_pipeline(reports, baseline, threshold, markdown, json_out, plot, within_run):
        return
    cmp = compare_reports(reports, baseline=baseline, threshold=threshold, within_run=within_run)
    from edgefer.compare import op_profile as opc  # op types slower/faster, if the reports have profiles

    op_changes = opc.op_profile_comparisons([(r.label, r.path) for r in cmp.reports], cmp.baseline)
    if markdown:
        typer.echo(cmp.markdown() + opc.op_profile_comparisons_markdown(op_changes), nl=False)
    else:
        console = Console()
        console.print(cmp.table())
        console.print("ratios: value / baseline; [lo, hi]: 95% interval (two-level bootstrap: repeats, then samples); "
                      "p: Mann-Whitney U of per-repeat p50s", style="dim", markup=False)
        for r in cmp.reports:
            if r.values["energy_j"] is None and r.energy_reason:
                console.print(f"energy of {r.label}: {r.energy_status} ({r.energy_reason})", style="dim", markup=False)
        for w in cmp.warnings:
            console.print(f"warning: {w}", style="yellow", markup=False, highlight=False)
        opc.render_op_profile_comparisons(op_changes, console)
    if json_out:
        from edgefer.runner.files import write_json_atomic

        write_json_atomic(json_out, {**cmp.to_dict(), "op_types": [c.to_dict() for c in op_changes]})
    if plot:
        from edgefer.report.plots import plot_comparison

        typer.echo(f"plot: {plot_comparison(cmp, plot)}", err=True)
    cmp.check_gate()


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
