"""The bench report: pydantic schema (mirrors docs/ARCHITECTURE.md), loading, rendering.

Host side. The device-side runner produces plain dicts; `Report.model_validate` checks them
before they are written, and `load_report` turns a bad file into a one-line EdgeferError.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgefer.bench.instructions import InstructionCounts
from edgefer.errors import EdgeferError
from edgefer.report.accelerators import AcceleratorReport, accelerator_rows
from edgefer.report.op_profile import OpProfile, Roofline


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Artifact(_M):
    path: str
    file: str
    format: Literal["onnx", "tflite", "torch"]
    precision: Literal["fp32", "int8", "fp16"] | None = None
    size_bytes: int | None = None
    sha256: str | None = None


class ModelInfo(_M):
    name: str | None = None
    params: int | None = None
    macs: int | None = None
    flops: int | None = None


class TargetInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    board: str | None = None
    arch: str
    transport: Literal["local", "ssh", "adb"]


class Environment(BaseModel):
    model_config = ConfigDict(extra="allow")  # fingerprints grow; unknown extra facts are kept
    hostname: str | None = None
    machine: str | None = None
    cpu_model: str | None = None
    board_model: str | None = None
    cpu_flags: list[str] = Field(default_factory=list)
    cpu_count: int | None = None
    kernel: str | None = None
    os: str | None = None
    python: str | None = None
    numpy: str | None = None
    runtime_versions: dict[str, str | None] = Field(default_factory=dict)
    governor: str | None = None
    temperatures_before: dict[str, float] = Field(default_factory=dict)
    temperatures_after: dict[str, float] = Field(default_factory=dict)
    throttling: dict[str, Any] | None = None
    emulated: bool
    emulator: str | None = None


class Tensor(_M):
    name: str
    shape: list[int | None]
    dtype: str
    layout: Literal["NCHW", "NHWC"] | None = None
    quantization: dict[str, float] | None = None


class RuntimeInfo(_M):
    name: str
    version: str | None = None
    threads: int | None = None
    providers: list[str] | None = None
    delegates: list[str] | None = None
    inputs: list[Tensor]
    outputs: list[Tensor]


class Settings(_M):
    runs: int
    warmup: int
    min_seconds: float
    batch_size: int
    threads: int | None = None
    cpus: list[int] | None = None
    cooldown_s: float = 0.0
    energy: str | dict[str, Any] | None = None
    idle_s: float | None = None
    input_shape: list[int] | None = None
    repeat: int = 1  # independent runner processes (schema "1" reports: always one)


class Timing(_M):
    load_ms: float | None = None
    first_inference_ms: float | None = None
    samples_ns: list[int]  # one sample = one batch


class Statistics(_M):
    n: int
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    per_sample_p50_ms: float
    throughput_sps: float | None = None
    between_repeats: "BetweenRepeats | None" = None  # None: a schema "1" report, no between-run estimate


class BetweenRepeats(_M):
    repeats: int
    p50_ms_per_repeat: list[float]  # per sample (ms / batch size)
    mean_p50_ms: float | None = None
    cv: float | None = None  # std / mean of the per-repeat p50s; None with one repeat
    ci95_p50_ms: list[float] | None = None
    method: str | None = None
    session_cv: float | None = None  # the target's between-session drift, added to intervals (hierarchical.py)


class Resources(_M):
    peak_rss_mb: float | None = None
    rss_before_load_mb: float | None = None  # the runner process after importing the runtime
    model_rss_mb: float | None = None  # peak minus before-load: what loading and running the model cost
    threads: int | None = None
    cpu_utilization_pct: float | None = None
    measured_in: str | None = None  # whose memory this is (schema "1" local reports: the host process's)


class Repeat(_M):
    """One repeat = one runner process: its own load, warm-up and timed runs."""

    index: int
    pid: int | None = None
    started_utc: str | None = None
    started_unix_ns: int | None = None
    partial: bool = False
    partial_reason: str | None = None
    load_ms: float | None = None
    first_inference_ms: float | None = None
    samples_ns: list[int]
    rss_before_load_mb: float | None = None
    peak_rss_mb: float | None = None
    model_rss_mb: float | None = None
    threads: int | None = None
    cpu_utilization_pct: float | None = None
    temperatures_before: dict[str, float] = Field(default_factory=dict)
    temperatures_after: dict[str, float] = Field(default_factory=dict)
    throttling: dict[str, Any] | None = None
    energy: "Energy | None" = None


class Exclusive(_M):
    held: bool
    lock: str | None = None
    waited_s: float | None = None


class Energy(_M):
    status: Literal["measured", "estimated", "unavailable"]
    reason: str | None = None
    meter: str | None = None
    rail: str | None = None
    sample_rate_hz: float | None = None
    n_samples: int | None = None
    window_s: float | None = None
    idle_power_w: float | None = None
    mean_power_w: float | None = None
    energy_per_inference_j: float | None = None
    energy_per_inference_above_idle_j: float | None = None
    uncertainty_j: float | None = None


class Report(_M):
    schema_version: Literal["1", "2"]
    kind: Literal["edgefer.bench.report"]
    created_utc: str
    edgefer_version: str
    partial: bool
    partial_reason: str | None = None
    artifact: Artifact
    model: ModelInfo = Field(default_factory=ModelInfo)
    manifest: dict[str, Any] | None = None
    target: TargetInfo | None = None
    environment: Environment
    runtime: RuntimeInfo | None = None  # None only if the run died before the model loaded
    settings: Settings
    timing: Timing
    statistics: Statistics | None = None  # None when a partial run has no sample
    resources: Resources
    energy: Energy | None = None
    accuracy: dict[str, Any] | None = None
    label: str | None = None
    repeats: list[Repeat] | None = None  # None: schema "1" (one run, no between-run estimate)
    exclusive: Exclusive | None = None  # the board lock held for the run (None: schema "1")
    warnings: list[str] = Field(default_factory=list)
    # per-op profile (runner, --op-profile) and compute rate vs nominal peak (host)
    op_profile: OpProfile | None = None
    roofline: Roofline | None = None
    accelerators: AcceleratorReport | None = None  # requested vs used providers, fallbacks
    instructions: InstructionCounts | None = None  # emulated targets, --count-instructions (edgefer.bench.instructions)

    @property
    def has_between_run_estimate(self) -> bool:
        return bool(self.repeats) and len([r for r in self.repeats if r.samples_ns]) >= 2


Statistics.model_rebuild()
Repeat.model_rebuild()


def validate_as(model: type[BaseModel], data: dict[str, Any], source: str) -> Any:
    """`model.model_validate(data)`, the first pydantic error as one line naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise EdgeferError(f"invalid {source}: {where}: {err['msg']} ({exc.error_count()} error(s))") from None


def validate_report(data: dict[str, Any], source: str = "report") -> Report:
    return validate_as(Report, data, source)


def read_json_object(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object from a file edgefer wrote (report, comparison, results); one-line errors."""
    path = os.fspath(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise EdgeferError(f"report file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeferError(f"invalid report {path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EdgeferError(f"invalid report {path}: expected a JSON object")
    return data


def load_report(path: str | os.PathLike) -> Report:
    return validate_report(read_json_object(path), f"report {os.fspath(path)}")


def _fmt(v: float | None, unit: str = "", digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}{unit}"


def _energy_text(e: Energy | None) -> str:
    if e is None:
        return "-"
    if e.status == "unavailable":
        return f"unavailable: {e.reason}"
    mj = e.energy_per_inference_j * 1e3 if e.energy_per_inference_j is not None else None
    text = f"{_fmt(mj, ' mJ')}/inference"
    if e.status == "estimated":
        return f"{text} (ESTIMATED from nominal {_fmt(e.mean_power_w, ' W', 2)}, not measured)"
    above = e.energy_per_inference_above_idle_j
    u = e.uncertainty_j
    return (f"{text} ± {_fmt(u * 1e3 if u is not None else None, ' mJ')}, above idle "
            f"{_fmt(above * 1e3 if above is not None else None, ' mJ')}; mean {_fmt(e.mean_power_w, ' W', 2)}, "
            f"idle {_fmt(e.idle_power_w, ' W', 2)}; {e.meter} {e.rail or ''} @ {_fmt(e.sample_rate_hz, ' Hz', 0)}, "
            f"{e.n_samples} samples")


def summary_rows(r: Report) -> list[tuple[str, str]]:
    """(field, value) pairs shared by the rich and markdown renderings."""
    s, env, rt = r.statistics, r.environment, r.runtime
    where = r.target.name if r.target else env.hostname
    if env.emulated:
        where = f"{where} (EMULATED: {env.emulator}; timings are not those of real hardware)"
    rows = [
        ("artifact", f"{r.artifact.file} ({r.artifact.format}, {r.artifact.precision or 'precision unknown'})"),
        ("model", r.model.name or "-"),
        ("target", where or "-"),
        ("runtime", f"{rt.name} {rt.version} threads={rt.threads}" if rt else "-"),
        ("cpu", f"{env.cpu_model or '-'} ({env.machine}, governor {env.governor or '-'})"),
        ("settings", f"batch {r.settings.batch_size}, warmup {r.settings.warmup}, runs {r.settings.runs}, "
                     f"min {r.settings.min_seconds} s"),
        ("status", f"PARTIAL: {r.partial_reason}" if r.partial else "complete"),
        ("load", _fmt(r.timing.load_ms, " ms", 1)),
        ("first inference", _fmt(r.timing.first_inference_ms, " ms")),
    ]
    if s is not None:
        rows += [
            ("samples", str(s.n)),
            ("latency mean ± std", f"{s.mean_ms:.3f} ± {s.std_ms:.3f} ms"),
            ("p50 / p90 / p95 / p99", f"{s.p50_ms:.3f} / {s.p90_ms:.3f} / {s.p95_ms:.3f} / {s.p99_ms:.3f} ms"),
            ("min / max", f"{s.min_ms:.3f} / {s.max_ms:.3f} ms"),
            ("throughput", _fmt(s.throughput_sps, " samples/s", 1)),
            ("repeats", _repeats_text(r)),
        ]
    res = r.resources
    rows += [
        ("peak RSS", _fmt(res.peak_rss_mb, " MB", 1) + (
            f" (before load {_fmt(res.rss_before_load_mb, ' MB', 1)}, model +{_fmt(res.model_rss_mb, ' MB', 1)}; "
            f"{res.measured_in or 'runner process'})" if res.rss_before_load_mb is not None else
            " (schema 1: the measuring process, which on the local target was edgefer's own)")),
        ("threads", str(res.threads) if res.threads is not None else "-"),
        ("CPU utilisation", _fmt(r.resources.cpu_utilization_pct, " %", 0)),
        ("energy", _energy_text(r.energy)),
        *accelerator_rows(r.accelerators),
    ]
    if r.exclusive is not None:
        rows.append(("board", f"held exclusively ({r.exclusive.lock}; waited {r.exclusive.waited_s:g} s)"
                     if r.exclusive.held else "NOT held exclusively"))
    rows += [("warning", w) for w in r.warnings]
    if r.instructions is not None:  # emulated targets, --count-instructions
        from edgefer.bench.instructions import summary_line

        rows.append(("instructions", (summary_line(r.instructions.model_dump()) or "").removeprefix("instructions: ")))
    if r.roofline is not None:  # issue 11
        from edgefer.report.op_profile import roofline_text

        rows.append(("compute rate", roofline_text(r.roofline)))
    if r.model.params is not None:
        rows.insert(2, ("params / MACs", f"{r.model.params:,} / {r.model.macs:,}" if r.model.macs else f"{r.model.params:,}"))
    return rows


def _repeats_text(r: Report) -> str:
    b = r.statistics.between_repeats if r.statistics else None
    if b is None:
        return "1 run (schema 1 report: no between-run estimate)"
    if b.repeats < 2:
        return f"{b.repeats} repeat: between-run variance unknown (use --repeat >= 2)"
    p50s = ", ".join(f"{v:.3f}" for v in b.p50_ms_per_repeat)
    ci = f", 95% CI [{b.ci95_p50_ms[0]:.3f}, {b.ci95_p50_ms[1]:.3f}] ms" if b.ci95_p50_ms else ""
    cv = f", between-repeat CV {b.cv:.1%}" if b.cv is not None else ""
    return f"{b.repeats}: p50 per repeat {p50s} ms; mean {b.mean_p50_ms:.3f} ms{ci}{cv}"


def to_markdown(r: Report) -> str:
    lines = ["| field | value |", "|---|---|"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in summary_rows(r)]
    from edgefer.report.op_profile import op_profile_markdown  # issue 11

    return "\n".join(lines) + "\n" + op_profile_markdown(r)


def render(r: Report, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"edgefer bench report: {r.artifact.file}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for k, v in summary_rows(r):
        style = "red" if (k == "status" and r.partial) or (k == "target" and r.environment.emulated) else None
        table.add_row(k, v, style=style)
    console = console or Console()
    console.print(table)
    from edgefer.report.op_profile import render_op_profile  # issue 11

    render_op_profile(r, console)
