"""The one interface every face detector implements (device side).

`run(frame)` -> Detections in pixel coordinates of the frame, clipped to it, plus the time the
runtime call itself took (for the glue-overhead figure: detection minus its runtime call is
the pipeline's own pre/post-processing).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Detections:
    boxes: np.ndarray  # (N, 4) float32 x1, y1, x2, y2 in frame pixels
    scores: np.ndarray | None  # (N,) float32, or None when the detector gives no score (Haar)
    runtime_ns: int  # the model/library call alone

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


class Detector(ABC):
    kind = "detector"
    # the open_detector options (threads, resize_backend, nms_mode) this detector's __init__ takes
    option_keys: tuple[str, ...] = ()
    needs_model_file = True  # False: opened by name alone, with a model of its own (OpenCV's cascade)

    @abstractmethod
    def run(self, frame: np.ndarray) -> Detections:
        """uint8 RGB (H, W, 3) -> face boxes."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """kind, model file, input size, thresholds, runtime."""

    def close(self) -> None:
        pass


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip (N, 4) x1, y1, x2, y2 boxes to the frame."""
    return np.clip(boxes.astype(np.float32), 0, np.array([width, height, width, height], np.float32))


def keep_nonempty(boxes: np.ndarray, scores: np.ndarray | None, min_side: float = 1.0):
    ok = ((boxes[:, 2] - boxes[:, 0]) >= min_side) & ((boxes[:, 3] - boxes[:, 1]) >= min_side)
    return boxes[ok], (scores[ok] if scores is not None else None)
