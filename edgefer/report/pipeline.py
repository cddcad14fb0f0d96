"""The pipeline report (kind "edgefer.pipeline.report"): pydantic schema, loading, rendering.
Host side; the device-side runner produces a plain dict per run (schema "1",
edgefer.runner.pipeline.session), the host merges the repeats (schema "2",
edgefer.pipeline.repeats) and validates the result before writing. Schema "1" files still load.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgefer.report.bench import Artifact, Environment, RuntimeInfo, TargetInfo

KIND = "edgefer.pipeline.report"
STAGES = ("acquire", "detect", "preprocess", "classify", "postprocess")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dist(_M):
    n: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


class Source(_M):
    spec: str
    kind: Literal["images", "npy", "video", "camera", "synthetic"]
    n_frames: int | None = None
    width: int | None = None
    height: int | None = None
    decoded_by: str | None = None
    note: str | None = None  # e.g. "decoded on the host by Pillow into an .npz frame stack"


class DetectorInfo(BaseModel):
    model_config = ConfigDict(extra="allow")  # detector-specific settings (Haar scale factor, ...)
    kind: Literal["blazeface", "haar"]
    file: str
    sha256: str | None = None
    input_size: list[int] | None = None
    anchors: int | None = None
    min_score: float | None = None
    nms: str | None = None
    nms_iou: float | None = None
    resize: str | None = None
    runtime: dict[str, Any]


class Preprocessing(_M):
    color: Literal["grayscale", "rgb"]
    input_size: list[int]
    mean: list[float]
    std: list[float]
    layout: Literal["NCHW", "NHWC"]
    resize: str
    from_: str = Field(alias="from")


class ClassifierInfo(_M):
    artifact: Artifact
    file: str
    runtime: RuntimeInfo
    preprocessing: Preprocessing
    class_names: list[str]
    model: str | None = None


class Settings(_M):
    frames: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    warmup: int
    threads: int | None = None
    resize: Literal["numpy", "cv2"]
    nms: str | None = None
    crop_margin: float
    opencv: str | None = None
    heap: str | None = None  # what the runner set for its heap (edgefer/runner/pipeline/heap.py); None in older reports
    energy: str | dict[str, Any] | None = None


class FacesPerFrame(_M):
    mean: float
    max: int
    histogram: dict[str, int]


class Statistics(_M):
    frames: int
    wall_s: float
    throughput_fps: float | None = None
    faces_per_frame: FacesPerFrame
    classifications: int
    stages: dict[str, Dist | None]
    per_face: dict[str, Dist | None] = Field(default_factory=dict)  # preprocess/classify per face
    e2e: Dist
    runtime_calls: Dist
    glue: Dist
    unaccounted: Dist
    glue_share_of_e2e: float | None = None


class Paced(_M):
    fps: float
    duration_s: float | None = None
    offered: int
    processed: int
    dropped: int
    late: int
    deadline_misses: int
    achieved_fps: float | None = None
    on_time_fps: float | None = None
    queue_delay: Dist | None = None
    latency: Dist | None = None


class Second(_M):
    t_s: int
    frames: int
    fps: int
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    late: int
    dropped: int
    cpu_freq_mhz: float | None = None
    temperature_c: float | None = None
    temperatures: dict[str, float] = Field(default_factory=dict)
    throttled: bool | None = None
    throttling: dict[str, Any] | None = None
    power_w: float | None = None
    repeat: int | None = None  # which repeat's second this is (schema "2": repeats back to back)


class RepeatSummary(_M):
    index: int
    pid: int | None = None  # its runner process
    created_utc: str | None = None
    partial: bool
    partial_reason: str | None = None
    frames: int
    wall_s: float
    throughput_fps: float | None = None
    e2e_p50_ms: float | None = None
    glue_p50_ms: float | None = None
    stage_p50_ms: dict[str, float | None]
    latency_p50_ms: float | None = None
    deadline_misses: int | None = None


class BetweenRepeats(_M):
    k: int
    e2e_p50_ms: list[float]
    e2e_cv: float | None = None  # coefficient of variation of the repeats' e2e p50
    session_cv: float | None = None  # the target profile's between-session drift, added to intervals


class Energy(_M):
    status: Literal["measured", "unavailable"]
    meter: str | None = None
    reason: str | None = None
    mean_power_w: float | None = None
    energy_per_frame_j: float | None = None


class FrameResult(_M):
    frame: int
    width: int
    height: int
    boxes: list[list[float]]
    scores: list[float] | None = None
    labels: list[str]
    probs: list[float]


class PipelineReport(_M):
    schema_version: Literal["1", "2"]  # "2": repeats (one runner process each), frames.repeat
    kind: Literal["edgefer.pipeline.report"]
    created_utc: str
    edgefer_version: str
    partial: bool
    partial_reason: str | None = None
    label: str | None = None
    target: TargetInfo | None = None
    pid: int | None = None  # the runner process (schema "1"; schema "2" has one per repeat)
    environment: Environment
    source: Source
    detector: DetectorInfo
    classifier: ClassifierInfo
    settings: Settings
    statistics: Statistics | None = None  # None only for a partial run with no complete frame
    paced: Paced | None = None
    timeline: list[Second]
    energy: Energy | None = None
    frames: dict[str, list[int]] | None = None  # per-frame columns (edgefer.runner.pipeline.loop.FRAME_FIELDS)
    results: list[FrameResult]
    repeats: list[RepeatSummary] | None = None  # schema "2"
    between_repeats: BetweenRepeats | None = None
    exclusive: dict[str, Any] | None = None  # the board lock held for the run (schema "2")


def validate_pipeline_report(data: dict[str, Any], source: str = "pipeline report") -> PipelineReport:
    from edgefer.report.bench import validate_as

    return validate_as(PipelineReport, data, source)


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    from edgefer.report.bench import read_json_object

    return read_json_object(path)


def is_pipeline_report(data: dict[str, Any]) -> bool:
    return data.get("kind") == KIND


def _ms(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _dist_cells(d: Dist | None) -> list[str]:
    return ["-"] * 4 if d is None else [_ms(d.p50_ms), _ms(d.p90_ms), _ms(d.p99_ms), _ms(d.mean_ms)]


def stage_rows(r: PipelineReport) -> list[list[str]]:
    """stage, p50, p90, p99, mean (ms) rows: the stages, end to end, and the glue split."""
    s = r.statistics
    if s is None:
        return []
    rows = [[name, *_dist_cells(s.stages.get(name))] for name in STAGES]
    for name, d in s.per_face.items():
        if d is not None:
            rows.append([f"  {name} per face", *_dist_cells(d)])
    rows.append(["end to end", *_dist_cells(s.e2e)])
    rows.append(["  runtime calls", *_dist_cells(s.runtime_calls)])
    rows.append(["  pipeline glue", *_dist_cells(s.glue)])
    if r.paced is not None:
        rows.append(["queueing delay", *_dist_cells(r.paced.queue_delay)])
        rows.append(["latency (arrival->result)", *_dist_cells(r.paced.latency)])
    return rows


def summary_rows(r: PipelineReport) -> list[tuple[str, str]]:
    env, s, c = r.environment, r.statistics, r.classifier
    where = r.target.name if r.target else env.hostname
    if env.emulated:
        where = f"{where} (EMULATED: {env.emulator}; timings are not those of real hardware)"
    src = r.source
    rows = [
        ("target", where or "-"),
        ("cpu", f"{env.cpu_model or '-'} ({env.machine})"),
        ("source", f"{src.spec} ({src.kind}, {src.width}x{src.height}, decoded by {src.decoded_by})"
                   + (f"; {src.note}" if src.note else "")),
        ("detector", f"{r.detector.kind} {r.detector.file} ({r.detector.runtime.get('name')} "
                     f"{r.detector.runtime.get('version')})"),
        ("classifier", f"{c.file} ({c.artifact.format}, {c.artifact.precision or 'precision unknown'}; "
                       f"{c.runtime.name} {c.runtime.version})"),
        ("preprocessing", f"{c.preprocessing.color} {c.preprocessing.input_size[0]}x{c.preprocessing.input_size[1]}, "
                          f"mean {c.preprocessing.mean} std {c.preprocessing.std} (from {c.preprocessing.from_}); "
                          f"resize {r.settings.resize}"),
        ("status", f"PARTIAL: {r.partial_reason}" if r.partial else "complete"),
    ]
    if r.settings.heap:
        rows.append(("runner heap", r.settings.heap))
    if s is not None:
        rows += [
            ("frames", f"{s.frames} in {s.wall_s:.2f} s ({_ms(s.throughput_fps, 1)} frames/s)"),
            ("faces per frame", f"mean {s.faces_per_frame.mean:.2f}, max {s.faces_per_frame.max}; "
                                f"{s.classifications} classifications"),
            ("glue share of e2e", "-" if s.glue_share_of_e2e is None else f"{100 * s.glue_share_of_e2e:.1f} %"),
        ]
    b = r.between_repeats
    if b is not None:
        p50s = ", ".join(f"{v:.2f}" for v in b.e2e_p50_ms)
        spread = f"; between-repeat CV {100 * b.e2e_cv:.1f} %" if b.e2e_cv is not None else \
            " (one repeat: between-run variance unknown; compare needs --repeat >= 2)"
        rows.append(("repeats", f"{b.k} runner process{'es' if b.k != 1 else ''}; e2e p50 per repeat: {p50s} ms{spread}"))
    if r.exclusive is not None:
        rows.append(("board", f"held exclusively ({r.exclusive.get('lock')}; waited {r.exclusive.get('waited_s', 0):g} s)"
                     if r.exclusive.get("held") else "NOT held exclusively"))
    if r.paced is not None:
        p = r.paced
        rows += [("paced", f"{p.fps:g} fps for {p.duration_s if p.duration_s is not None else '?'} s: offered "
                           f"{p.offered}, processed {p.processed}, achieved {_ms(p.achieved_fps, 1)} fps"),
                 ("deadline misses", f"{p.deadline_misses} ({p.dropped} dropped, {p.late} late)")]
    temps = [t.temperature_c for t in r.timeline if t.temperature_c is not None]
    if temps:
        rows.append(("temperature", f"{min(temps):.1f} -> {max(temps):.1f} °C (hottest zone, per second)"))
    e = r.energy
    if e is not None:
        rows.append(("energy", f"{_ms(e.mean_power_w)} W mean, {_ms((e.energy_per_frame_j or 0) * 1e3)} mJ/frame "
                               f"({e.meter})" if e.status == "measured" else f"unavailable: {e.reason}"))
    return rows


def to_markdown(r: PipelineReport) -> str:
    lines = ["| field | value |", "|---|---|"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in summary_rows(r)]
    lines += ["", "| stage | p50 ms | p90 ms | p99 ms | mean ms |", "|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in stage_rows(r)]
    return "\n".join(lines) + "\n"


def render(r: PipelineReport, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="edgefer pipeline report", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for k, v in summary_rows(r):
        style = "red" if (k == "status" and r.partial) or (k == "target" and r.environment.emulated) else None
        table.add_row(k, v, style=style)
    console.print(table)
    stages = Table(title="per-frame latency (ms)")
    for col in ("stage", "p50", "p90", "p99", "mean"):
        stages.add_column(col, justify="left" if col == "stage" else "right")
    for row in stage_rows(r):
        stages.add_row(*row)
    console.print(stages)


def show_if_pipeline(path: str, markdown: bool) -> bool:
    """`edgefer report show` hook: render a pipeline report and return True; False for other kinds."""
    data = read_json(path)
    if not is_pipeline_report(data):
        return False
    rep = validate_pipeline_report(data, f"pipeline report {path}")
    if markdown:
        import typer

        typer.echo(to_markdown(rep), nl=False)
    else:
        render(rep)
    return True
