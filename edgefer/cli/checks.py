"""Checks of option values shared by the CLI commands: a bad value is one line naming the option."""

from __future__ import annotations

from typing import Iterable

from edgefer.errors import EdgeferError

RUNTIME_CHOICES = ("onnxruntime", "onnx", "ort", "litert", "tflite", "tflite_runtime", "ai_edge_litert", "torch")
PRECISION_CHOICES = ("fp32", "int8", "fp16")


def check_choice(option: str, value: str | None, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value is not None and value not in choices:
        raise EdgeferError(f"invalid {option} {value!r}", hint=f"choose from: {', '.join(choices)}")


def check_range(option: str, value: float | int | None, lo: float | None = None, hi: float | None = None) -> None:
    """lo <= value <= hi (either bound optional); NaN and infinities are refused."""
    if value is None:
        return
    import math

    if isinstance(value, float) and not math.isfinite(value):
        raise EdgeferError(f"{option} must be a finite number, got {value}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f">= {lo:g}" if hi is None else f"<= {hi:g}" if lo is None else f"between {lo:g} and {hi:g}"
        raise EdgeferError(f"{option} must be {bounds}, got {value:g}")
