"""The bench report: pydantic schema (mirrors docs/ARCHITECTURE.md), loading, rendering.

Host side. The device-side runner produces plain dicts; `Report.model_validate` checks them
before they are written, and `load_report` turns a bad file into a one-line EdgeferError.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgefer.errors import EdgeferError
from edgefer.instructions import InstructionCounts


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Artifact(_M):
    path: str
    file: str
    format: Literal["onnx", "tflite", "torch"]
    precision: Literal["fp32", "int8"] | None = None
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


class Resources(_M):
    peak_rss_mb: float | None = None
    cpu_utilization_pct: float | None = None


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
    schema_version: Literal["1"]
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
    instructions: InstructionCounts | None = None  # emulated targets, --count-instructions (edgefer.instructions)


def validate_report(data: dict[str, Any], source: str = "report") -> Report:
    try:
        return Report.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise EdgeferError(f"invalid {source}: {where}: {err['msg']} ({exc.error_count()} error(s))") from None


def load_report(path: str | os.PathLike) -> Report:
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
    return validate_report(data, f"report {path}")


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
        ]
    rows += [
        ("peak RSS", _fmt(r.resources.peak_rss_mb, " MB", 1)),
        ("CPU utilisation", _fmt(r.resources.cpu_utilization_pct, " %", 0)),
        ("energy", _energy_text(r.energy)),
    ]
    if r.model.params is not None:
        rows.insert(2, ("params / MACs", f"{r.model.params:,} / {r.model.macs:,}" if r.model.macs else f"{r.model.params:,}"))
    return rows


def to_markdown(r: Report) -> str:
    lines = ["| field | value |", "|---|---|"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in summary_rows(r)]
    return "\n".join(lines) + "\n"


def render(r: Report, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"edgefer bench report: {r.artifact.file}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for k, v in summary_rows(r):
        style = "red" if (k == "status" and r.partial) or (k == "target" and r.environment.emulated) else None
        table.add_row(k, v, style=style)
    (console or Console()).print(table)
