"""Pydantic schema of the bench report's `accelerators` section (host side).

Produced on the device by edgefer.runner.accel.accelerator_report(): which onnxruntime
execution providers / LiteRT accelerators were requested, which the runtime actually used,
every CPU fallback taken (never silent), and nodes per provider where the runtime tells.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fallback(_M):
    requested: str
    ran_on: str
    reason: str


class AcceleratorReport(_M):
    runtime: str  # onnxruntime | litert | tflite_runtime
    api: str  # InferenceSession | Interpreter | CompiledModel
    requested: list[str]
    options: dict[str, dict[str, str] | str] = Field(default_factory=dict)
    used: list[str]  # ORT: session.get_providers(); LiteRT: the accelerators compiled for
    allow_fallback: bool = False
    fallbacks: list[Fallback] = Field(default_factory=list)
    node_counts: dict[str, int] | None = None
    node_counts_source: str | None = None
    fully_accelerated: bool | None = None


def accelerator_rows(a: AcceleratorReport | None) -> list[tuple[str, str]]:
    """Rows for the report table (empty for reports without the section)."""
    if a is None:
        return []
    rows = [("accelerators", f"{a.api}: requested {', '.join(a.requested)}; ran on {', '.join(a.used)}")]
    if a.node_counts:
        rows.append(("nodes per provider", ", ".join(f"{k} {v}" for k, v in a.node_counts.items())))
    rows += [("FALLBACK", f"{f.requested} -> {f.ran_on}: {f.reason}") for f in a.fallbacks]
    return rows
