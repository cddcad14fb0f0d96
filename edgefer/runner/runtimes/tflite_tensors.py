"""How a TFLite tensor is described, shared by both LiteRT APIs (the Interpreter and CompiledModel):
its image layout and its per-tensor int8 quantization (device side: stdlib only)."""

from __future__ import annotations

from typing import Any

from edgefer.runner.runtimes.base import guess_layout


def tflite_layout(name: str, shape: list[int | None]) -> str | None:
    """Image layout of a TFLite input: the name edgefer gives it ("image_nhwc") wins, else the
    channel position; an ambiguous 4-D shape is taken as NHWC, TFLite's native layout."""
    lowered = name.lower()
    if len(shape) == 4:
        for layout in ("NHWC", "NCHW"):
            if layout.lower() in lowered:
                return layout
    return guess_layout(shape, default="NHWC")


def tflite_quantization(detail: dict[str, Any]) -> dict[str, float] | None:
    # per-tensor (scale, zero_point); (0.0, 0) means "not quantized"
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if not scale:
        return None
    return {"scale": float(scale), "zero_point": int(zero_point)}
