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

