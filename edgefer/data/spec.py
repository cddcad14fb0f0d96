"""The input spec: what one model input looks like and how a face image becomes it.

Every loader and every runtime goes through `InputSpec.preprocess`, and the spec is written
into manifest.json, so PyTorch, ONNX Runtime and LiteRT all see identically prepared tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgefer.errors import EdgeferError

_RESAMPLE = ("nearest", "bilinear", "bicubic")


@dataclass(frozen=True)
class InputSpec:
    """NCHW float32 input of a model: size, channels and preprocessing.

    pixel (uint8) -> resize to (H, W) -> grayscale | rgb -> /255 -> (x - mean) / std.
    """

    input_size: tuple[int, int]  # (H, W)
    channels: int
    color: str  # "grayscale" | "rgb"
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: str = "bilinear"

    def __post_init__(self) -> None:
        h, w = self.input_size
        if h < 1 or w < 1:
            raise EdgeferError(f"--input-size must be positive, got {h} {w}")
        if self.color not in ("grayscale", "rgb"):
            raise EdgeferError(f"preprocessing color must be grayscale or rgb, got {self.color!r}")
        expected = 1 if self.color == "grayscale" else 3
        if self.channels != expected:
            raise EdgeferError(f"{self.color} preprocessing gives {expected} channel(s) but the model has {self.channels}")
        for what, vals in (("mean", self.mean), ("std", self.std)):
            if len(vals) not in (1, self.channels):
                raise EdgeferError(f"--{what} needs 1 or {self.channels} values, got {len(vals)}")
        if any(s == 0 for s in self.std):
            raise EdgeferError("--std values must be non-zero")
        if self.resize not in _RESAMPLE:
            raise EdgeferError(f"resize must be one of {', '.join(_RESAMPLE)}, got {self.resize!r}")

    @classmethod
    def from_entry(cls, entry) -> "InputSpec":
        """Spec of a zoo `ModelEntry` (its default input size, channels and preprocessing)."""
        p = entry.preprocessing
        return cls(tuple(entry.input_size), entry.in_chans, p.color, tuple(p.mean), tuple(p.std), p.resize)

    def shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, self.channels, *self.input_size)

    def to_dict(self) -> dict:
        return {
            "layout": "NCHW",
            "dtype": "float32",
            "input_size": list(self.input_size),
            "channels": self.channels,
            "preprocessing": {
                "resize": self.resize,
                "color": self.color,
                "scale": "1/255",
                "mean": list(self.mean),
                "std": list(self.std),
            },
        }

    def normalize(self, x01: np.ndarray) -> np.ndarray:
        """(N, C, H, W) in [0, 1] -> normalized float32."""
        mean = np.asarray(self.mean, np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(self.std, np.float32).reshape(1, -1, 1, 1)
        return ((x01 - mean) / std).astype(np.float32)

    def preprocess(self, images) -> np.ndarray:
        """Pillow images or uint8 arrays (H, W) / (H, W, C) -> float32 NCHW batch."""
        from PIL import Image

        mode = "L" if self.color == "grayscale" else "RGB"
        resample = getattr(Image.Resampling, self.resize.upper())
        h, w = self.input_size
        out = np.empty((len(images), self.channels, h, w), np.float32)
        for i, img in enumerate(images):
            if not isinstance(img, Image.Image):
                img = Image.fromarray(np.asarray(img, dtype=np.uint8))
            img = img.convert(mode)
            if img.size != (w, h):
                img = img.resize((w, h), resample)
            a = np.asarray(img, np.float32) / 255.0
            out[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        return self.normalize(out)
