"""`edgefer bench` and `edgefer report show`: thin CLI over `edgefer.bench.api.bench` / `edgefer.report.bench`."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Iterator, Optional

import typer

from edgefer.runner.settings import BenchSettings

DEFAULT = BenchSettings.default  # the option defaults are the settings struct's (edgefer.runner.settings)

@contextlib.contextmanager
def _progress(console, enabled: bool) -> Iterator:
    """Yields a factory: job -> on_progress callback driving one rich progress bar per artifact."""
    if not enabled:
        yield lambda job: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as prog:

        def for_job(job):
            import os

            name = os.path.basename(job.path.rstrip("/"))
            task = prog.add_task(f"{name} loading", total=None)

            def update(phase: str, done: int, total: int) -> None:
                prog.update(task, description=f"{name} {phase}", completed=done, total=total)

            return update

        yield for_job


def bench_cmd(
    artifact: str = typer.Argument(..., help="An .onnx or .tflite file, a converted directory (with manifest.json), "
                                               "or a zoo model name with --runtime torch."),
    target: str = typer.Option("local", "--target", "-t", help="Target profile name (targets/NAME.yaml) or YAML path."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="onnxruntime | litert | torch (default: by file extension)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="In a converted directory: only this format (onnx|tflite)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="In a converted directory: only this "
        "precision (fp32|int8|fp16)."),
    runs: Optional[int] = typer.Option(None, "--runs", help="Timed runs (at least; default: the target's bench.runs)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Untimed warm-up runs (default: the target's)."),
    min_seconds: Optional[float] = typer.Option(None, "--min-seconds", help="Keep timing until this many "
        "seconds have passed too."),
    batch_size: int = typer.Option(DEFAULT("batch_size"), "--batch-size", "-b", help="Images per inference call."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Runtime intra-op threads."),
    cpus: Optional[str] = typer.Option(None, "--cpus", help="Pin to these CPUs, e.g. 0,1 or 2-3 (sched_setaffinity)."),
    cooldown: Optional[float] = typer.Option(None, "--cooldown", help="Seconds to idle before measuring."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="Shape for models with dynamic dims, e.g. 1,1,48,48."),
    energy: str = typer.Option(DEFAULT("energy"), "--energy", help="auto: the target's meter if readable, else null "
                               "with the reason; measure: the meter must work; estimate: nominal power x time "
                               "(labelled estimated); none."),
    nominal_power_w: Optional[float] = typer.Option(None, "--nominal-power-w", help="Board power for --energy estimate "
                                                                                   "(default: the target's)."),
    idle_seconds: float = typer.Option(DEFAULT("idle_s"), "--idle-seconds",
                                       help="Idle baseline length before the run (with a meter)."),
    repeat: Optional[int] = typer.Option(None, "--repeat", "-r", help="Repeats: independent runner processes, each "
                                         "loading the model and timing its own runs (default: the target's "
                                         "bench.repeat, 5 on the local machine). Two or more give between-run "
                                         "statistics; compare needs them."),
    lock_timeout: Optional[float] = typer.Option(None, "--lock-timeout", help="Seconds to wait when another bench "
                                                 "holds the board (default: the target's, 600)."),
    install_deps: bool = typer.Option(False, "--install-deps", help="On a board: pip-install a missing numpy/runtime."),
    label: Optional[str] = typer.Option(None, "--label", help="Free-text label stored in the report."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the report here (atomically); with several "
                                                                "artifacts, a directory of <file>.json."),
    as_json: bool = typer.Option(False, "--json", help="Print the report(s) as JSON instead of a table."),
    op_profile: int = typer.Option(DEFAULT("op_profile"), "--op-profile", metavar="N", help="After the timed runs, "
                                   "N separate profiled runs: per-op times (onnxruntime) or delegate partitions "
                                   "(LiteRT). See docs/op-profiles.md."),
    providers: Optional[str] = typer.Option(None, "--providers", help="onnxruntime execution providers in order, "
                                            "NAME[:key=value;...] comma-separated, e.g. 'tensorrt:trt_fp16_enable=True,cuda,cpu' "
                                            "(default: the target's)."),
    accelerator: Optional[str] = typer.Option(None, "--accelerator", help="LiteRT CompiledModel accelerators: cpu, gpu, "
                                              "npu, e.g. gpu,cpu; 'interpreter' for the Interpreter (default: the target's)."),
    dispatch_library: Optional[str] = typer.Option(None, "--dispatch-library", help="LiteRT NPU vendor "
        "dispatch library on the device."),
    allow_fallback: Optional[bool] = typer.Option(None, "--allow-fallback/--no-allow-fallback", help="Run on the CPU when "
                                                  "a requested accelerator is missing (recorded in the report)."),
    count_instructions: Optional[bool] = typer.Option(
        None, "--count-instructions/--no-count-instructions",
        help="Emulated targets: also count guest instructions per inference (default: the profile's "
             "instruction_counts.default)."),
) -> None:
    """Benchmark a model: latency distribution, throughput, memory, CPU and energy, in a versioned JSON report.

    Every repeat is a fresh runner process (on a board, the emulated board, or this machine), so memory and
    CPU figures are the model's own; the report keeps each repeat's samples and between-run statistics.

    A converted directory benchmarks every artifact in its manifest, one report each (filter with
    --format/--precision), their repeats interleaved. One bench per board at a time: a second one waits.

    Ctrl-C or SIGTERM keeps the samples measured so far (also on a board): the report is written, marked
    partial, and the exit code is 1.
    """
    from edgefer.bench.accel_choice import AccelRequest
    from edgefer.runner.options import interrupt_on_sigterm, parse_cpus, parse_shape

    interrupt_on_sigterm()
    _check_choices(runtime, fmt, precision, energy)
    cpu_list, shape = parse_cpus(cpus), parse_shape(input_shape)
    settings = BenchSettings(
        runs=runs, warmup=warmup, min_seconds=min_seconds, batch_size=batch_size, threads=threads,
        cpus=tuple(cpu_list) if cpu_list else None, cooldown_s=cooldown, input_shape=tuple(shape) if shape else None,
        energy=energy, nominal_power_w=nominal_power_w, idle_s=idle_seconds, op_profile=op_profile,
        count_instructions=count_instructions)
    reports = _run_bench(artifact, settings, as_json, target=target, runtime=runtime, fmt=fmt, precision=precision,
                         accel=AccelRequest(providers, accelerator, dispatch_library, allow_fallback), repeat=repeat,
                         lock_timeout_s=lock_timeout, label=label, out=out, install_deps=install_deps)
    _show_reports(reports, as_json, out)


def _check_choices(runtime: str | None, fmt: str | None, precision: str | None, energy: str) -> None:
    from edgefer.cli.checks import ENERGY_CHOICES, PRECISION_CHOICES, RUNTIME_CHOICES, check_choice

    check_choice("--runtime", runtime, RUNTIME_CHOICES)
    check_choice("--format", fmt, ("onnx", "tflite"))
    check_choice("--precision", precision, PRECISION_CHOICES)
    check_choice("--energy", energy, ENERGY_CHOICES)


def _run_bench(artifact: str, settings: BenchSettings, as_json: bool, **selection) -> list[dict]:
    """bench() with a progress bar per artifact on a terminal and a line when the board is busy."""
    from rich.console import Console

    from edgefer.bench.api import bench

    console = Console(stderr=True)

    def on_wait(holder: str) -> None:
        console.print(f"waiting for the board: held by {holder}", style="yellow", markup=False, highlight=False)

    with _progress(console, enabled=not as_json and sys.stderr.isatty()) as on_progress:
        return bench(artifact, settings, on_progress=on_progress, on_wait=on_wait, **selection)


def _show_reports(reports: list[dict], as_json: bool, out: str | None) -> None:
    """The reports as JSON or tables (exit 1 when one is partial)."""
    from rich.console import Console

    from edgefer.report.bench import render, validate_report
    from edgefer.report.op_profile import op_profile_notes  # issue 11: one line when a runtime cannot profile

    for note in op_profile_notes(reports):
        typer.echo(note, err=True)
    if as_json:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
    else:
        for r in reports:
            render(validate_report(r), Console())  # instruction counts, when made, are one of its rows
        if out:
            Console(stderr=True).print(f"report{'s' if len(reports) > 1 else ''} written to {out}")
    if any(r["partial"] for r in reports):
        raise typer.Exit(1)


def report_show(
    file: str = typer.Argument(..., help="A report JSON written by `edgefer bench --out`."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table instead."),
) -> None:
    """Render a bench report (validated against the report schema)."""
    from edgefer.report.bench import load_report, render, to_markdown
    from edgefer.report.pipeline import show_if_pipeline  # pipeline reports render their own way

    if show_if_pipeline(file, markdown):
        return
    rep = load_report(file)
    if markdown:
        typer.echo(to_markdown(rep), nl=False)
    else:
        render(rep)


def report_html(
    files: list[str] = typer.Argument(..., help="Bench or pipeline reports, `compare --json` files, or reproduce/study "
                                                "results.json (two or more bench reports are also compared)."),
    out: str = typer.Option("report.html", "--out", "-o", help="The HTML file to write (atomically)."),
) -> None:
    """One self-contained HTML page to share: summary, latency histogram/CDF, per-repeat spread, op profile and
    timeline where present, environment fingerprint, emulated/estimated labels. No scripts, nothing fetched."""
    from edgefer.html import write_html

    typer.echo(f"written {write_html(files, out)}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
    report_app = typer.Typer(help="Inspect bench reports.", no_args_is_help=True)
    report_app.command("show")(report_show)
    report_app.command("html")(report_html)
    app.add_typer(report_app, name="report")
