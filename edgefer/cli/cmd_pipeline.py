"""`edgefer pipeline`: thin CLI over `edgefer.pipeline.run_pipeline`."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Callable, Iterator, Optional

import typer

from edgefer.runner.pipeline.settings import PipelineSettings

DEFAULT = PipelineSettings.default


@contextlib.contextmanager
def _progress(console, frames: int | None, seconds: float | None,
              enabled: bool) -> Iterator[Callable[[int, int, int, float], None] | None]:
    """A rich bar over all repeats: in frames when a frame count ends a repeat, else in seconds
    (a paced or --duration run). None when not on a terminal."""
    if not enabled or (frames is None and seconds is None):
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    per = float(frames if frames is not None else seconds)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"),
                  TimeElapsedColumn(), console=console, transient=False) as prog:
        task = prog.add_task("pipeline", total=None, done="")

        def update(index: int, repeats: int, done_frames: int, elapsed_s: float) -> None:
            done = done_frames if frames is not None else elapsed_s
            prog.update(task, total=repeats * per, completed=index * per + min(done, per),
                        description=f"pipeline repeat {index + 1}/{repeats}",
                        done=f"{done:.0f}/{per:.0f} frames" if frames is not None else f"{done:.1f}/{per:g} s")

        yield update


def pipeline_cmd(
    classifier: str = typer.Option(..., "--classifier", "-c", help="Expression classifier: an edgefer artifact "
                                   "(.onnx/.tflite file or converted directory) or any foreign .onnx/.tflite classifier."),
    detector: str = typer.Option("blazeface", "--detector", "-d", help="blazeface (MediaPipe short range), "
                                 "blazeface-full, blazeface-back, haar (OpenCV cascade), or a BlazeFace-format "
                                 ".tflite/.onnx or a cascade .xml file."),
    source: str = typer.Option(..., "--source", "-s", help="Image file or folder, .npy/.npz frames, a video file, "
                               "camera:N, or synthetic[:WxH]."),
    target: str = typer.Option("local", "--target", "-t", help="Target profile name (targets/NAME.yaml) or YAML path."),
    fmt: Optional[str] = typer.Option(None, "--format", help="In a converted directory: this format (onnx|tflite)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="In a converted directory: this precision (fp32|int8)."),
    frames: Optional[int] = typer.Option(None, "--frames", "-n", help="Frames to process (default 100 without --duration; "
                                         "shorter sources are cycled)."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Camera-paced: frames arrive at this rate (needs --duration "
                                        "or --frames); drops, late frames and queueing delay are reported."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Run for this many seconds."),
    warmup: int = typer.Option(DEFAULT("warmup"), "--warmup", help="Untimed frames first (in every repeat)."),
    repeat: Optional[int] = typer.Option(None, "--repeat", "-r", help="Runs, each a fresh runner process: the "
                                         "between-run variance `edgefer compare` needs for a verdict (default: the "
                                         "target profile's bench.repeat free-running, 1 camera-paced)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Runtime intra-op threads (detector and classifier)."),
    resize: str = typer.Option(DEFAULT("resize"), "--resize", help="Crop/letterbox resize: auto (OpenCV if "
        "installed), numpy, cv2."),
    nms: str = typer.Option(DEFAULT("nms"), "--nms", help="BlazeFace NMS: weighted (MediaPipe) or plain."),
    crop_margin: float = typer.Option(DEFAULT("crop_margin"), "--crop-margin", help="Face crop: square of "
        "the box's longest side x (1 + margin)."),
    energy: str = typer.Option(DEFAULT("energy"), "--energy", help="auto: the board's meter if readable (power per second in "
                               "the timeline); none."),
    lock_timeout: Optional[float] = typer.Option(None, "--lock-timeout", help="Seconds to wait when a bench or "
                                                 "another pipeline holds the board (default: the profile's)."),
    label: Optional[str] = typer.Option(None, "--label", help="Free-text label stored in the report."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Write the report here (atomically; also when interrupted)."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="PNG", help="Draw the per-second timeline (latency, "
                                       "deadline misses, temperature, CPU frequency)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of tables."),
) -> None:
    """Run the FER application: frame -> face detection -> crop + preprocessing -> classification -> result,
    each stage timed per frame; free-running or camera-paced (--fps F --duration S).

    Every repeat is its own runner process; the report holds each repeat's summary and every frame.
    Ctrl-C (or SIGTERM) keeps the frames measured so far: the report is written, marked partial, exit 1.
    """
    from rich.console import Console

    from edgefer.pipeline import run_pipeline
    from edgefer.report.pipeline import render, validate_pipeline_report
    from edgefer.runner.options import interrupt_on_sigterm

    interrupt_on_sigterm()
    err = Console(stderr=True)

    def on_wait(holder: str) -> None:
        err.print(f"waiting for the board: held by {holder}", style="yellow", markup=False, highlight=False)

    from edgefer.runner.pipeline.session import DEFAULT_FRAMES

    bar_frames = frames if frames is not None else (None if duration is not None else DEFAULT_FRAMES)
    with _progress(err, bar_frames, duration, enabled=not as_json and sys.stderr.isatty()) as on_progress:
        settings = PipelineSettings(frames=frames, fps=fps, duration_s=duration, warmup=warmup, threads=threads,
                                    resize=resize, nms=nms, crop_margin=crop_margin, energy=energy)
        report = run_pipeline(classifier, detector, source, settings, target=target, fmt=fmt, precision=precision,
                              label=label, out=out, plot=plot, repeat=repeat, lock_timeout_s=lock_timeout,
                              on_wait=on_wait, on_progress=on_progress)
    if as_json:
        typer.echo(json.dumps(report, indent=1))
    else:
        render(validate_pipeline_report(report), Console())
        if out:
            err.print(f"report written to {out}", markup=False, highlight=False)
        if plot:
            err.print(f"plot written to {plot}", markup=False, highlight=False)
    if report["partial"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("pipeline")(pipeline_cmd)
