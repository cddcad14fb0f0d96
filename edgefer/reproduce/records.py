"""What `reproduce` produces: its settings, one row per model x format x precision, the
paper's claims checked, and the whole result (written as results.json)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

from edgefer.runner.settings import BenchSettings

TORCH = "torch"  # PyTorch eager on the host (edgefer.bench.torch_runtime), as seed 000 timed its models
UNTRAINED_NOTE = (
    "Models are untrained (seed-0 random weights; no trained weights can be downloaded): latency, size, "
    "params and FLOPs do not depend on the weights; int8 calibration used {calib}."
)

def flops_convention(published: float, macs: int, flops: int) -> str:
    """Which of our counts ("MACs" or "FLOPs" = 2 x MACs) a published "FLOPs" figure is nearer to (log scale)."""
    return "MACs" if abs(math.log(published / macs)) < abs(math.log(published / flops)) else "FLOPs"


@dataclass
class Settings:
    target: str = "local"
    formats: tuple[str, ...] = ("onnx", "tflite")
    precisions: tuple[str, ...] = ("fp32", "int8")
    calib_data: str | None = None
    repeat: int | None = None
    # what every bench of the run measures (edgefer.bench.api.bench's settings; unset: the target profile's)
    bench: BenchSettings = field(default_factory=BenchSettings)

    def to_dict(self) -> dict:
        """As results.json has always had it: the bench values it records side by side with the rest."""
        b = self.bench
        return {"target": self.target, "formats": list(self.formats), "precisions": list(self.precisions),
                "runs": b.runs, "warmup": b.warmup, "min_seconds": b.min_seconds, "threads": b.threads,
                "energy": b.energy, "calib_data": self.calib_data, "repeat": self.repeat}

    def deployed_formats(self) -> tuple[str, ...]:
        """The formats convert produces (PyTorch eager, "torch", is timed from the zoo model itself)."""
        return tuple(f for f in self.formats if f != TORCH)

    def series(self) -> list[tuple[str, str]]:
        """(format, precision) of each row per model; PyTorch eager is fp32 only."""
        return [(f, p) for f in self.formats for p in (("fp32",) if f == TORCH else self.precisions)]

    def bench_key(self) -> dict:
        """What changes a measurement (the artifact hash is added per row)."""
        b = self.bench
        return {"target": self.target, "runs": b.runs, "warmup": b.warmup, "min_seconds": b.min_seconds,
                "threads": b.threads, "energy": b.energy, "batch_size": b.batch_size, "repeat": self.repeat,
                "schema": "2"}


@dataclass
class Row:
    paper: str
    model: str
    label: str
    role: str
    format: str | None
    precision: str | None
    params: int | None = None
    macs: int | None = None
    flops: int | None = None
    input_shape: list[int] | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    p50_ms: float | None = None  # per sample (batch 1)
    p90_ms: float | None = None
    mean_ms: float | None = None
    throughput_sps: float | None = None
    energy_j: float | None = None
    energy_status: str | None = None
    energy_reason: str | None = None
    n_samples: int | None = None
    emulated: bool | None = None
    report: str | None = None  # path relative to the out dir
    cached: bool = False
    verification: list[str] = field(default_factory=list)  # conversion gate violations
    error: str | None = None
    published: dict[str, list[dict]] = field(default_factory=dict)  # metric -> figures with ratios
    instructions: float | None = None  # guest instructions per inference (emulated board, edgefer.bench.instructions)


@dataclass
class ClaimCheck:
    id: str
    statement: str
    source: str
    metric: str
    subject: str
    reference: str
    direction: str
    expected_ratio: float | None
    series: str | None  # "onnx fp32" for latency claims, None for counts
    measured_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    outcome: str = "not checked"  # holds / contradicted / not confirmed (...) / not checked (...)
    emulated: bool = False  # latency measured on an emulated board: a verdict about QEMU, not silicon


@dataclass
class PaperResult:
    id: str
    short_name: str
    title: str
    notes: str
    flops_convention: str | None  # which of our counts matches the paper's "FLOPs"; None: paper prints none
    has_figures: bool
    rows: list[Row]
    claims: list[ClaimCheck]


@dataclass
class ReproduceResult:
    out_dir: str
    settings: Settings
    target: dict | None
    papers: list[PaperResult]
    command: str
    note: str
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        from dataclasses import asdict

        from edgefer import __version__

        return {
            "kind": "edgefer.reproduce", "schema_version": "1", "edgefer_version": __version__,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": self.command, "note": self.note, "target": self.target,
            "settings": self.settings.to_dict(), "papers": [asdict(p) for p in self.papers],
            "files": self.files,
        }
