"""OpenCV's Haar cascade face detector (device side; needs cv2, probed).

The cascade XML ships inside opencv-python(-headless) (cv2.data.haarcascades). Settings are
the ones OpenCV's face-detection tutorial uses (scaleFactor 1.1, minNeighbors 5, 30 px minimum).
A Haar cascade has no confidence score: scores are null in the report.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.files import sha256_file
from edgefer.runner.pipeline.detectors.base import Detections, Detector, clip_boxes, keep_nonempty

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"
SCALE_FACTOR, MIN_NEIGHBORS, MIN_SIZE = 1.1, 5, 30


def default_cascade() -> str:
    from edgefer.runner.pipeline.imaging import require_cv2

    cv2 = require_cv2("the Haar cascade detector")
    return os.path.join(cv2.data.haarcascades, DEFAULT_CASCADE)


class HaarCascade(Detector):
    kind = "haar"
    needs_model_file = False  # the frontal-face cascade bundled with OpenCV

    def __init__(self, path: str | None = None) -> None:
        from edgefer.runner.pipeline.imaging import require_cv2

        self._cv2 = require_cv2("the Haar cascade detector")
        if not hasattr(self._cv2, "CascadeClassifier"):  # OpenCV 5 moved the cascades out of the main package
            raise EdgeferError(f"OpenCV {self._cv2.__version__} has no Haar cascades",
                               hint="pip install 'opencv-python-headless>=4.8,<5'")
        self.path = path or default_cascade()
        if not os.path.isfile(self.path):
            raise EdgeferError(f"detector file not found: {self.path}")
        try:
            self.cascade = self._cv2.CascadeClassifier(self.path)
            empty = self.cascade.empty()
        except (self._cv2.error, SystemError):  # a malformed XML surfaces as SystemError
            empty = True
        if empty:
            raise EdgeferError(f"detector {os.path.basename(self.path)} is not a detector: OpenCV cannot load it as a cascade")
        self.sha256 = sha256_file(self.path)

    def run(self, frame: np.ndarray) -> Detections:
        cv2 = self._cv2
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        t0 = time.perf_counter_ns()
        found = self.cascade.detectMultiScale(gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS,
                                              minSize=(MIN_SIZE, MIN_SIZE))
        runtime_ns = time.perf_counter_ns() - t0
        xywh = np.asarray(found, np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        boxes, _ = keep_nonempty(clip_boxes(boxes, frame.shape[1], frame.shape[0]), None)
        return Detections(boxes, None, runtime_ns)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": os.path.basename(self.path), "sha256": self.sha256, "input_size": None,
                "anchors": None, "min_score": None, "nms": None, "nms_iou": None, "resize": None,
                "scale_factor": SCALE_FACTOR, "min_neighbors": MIN_NEIGHBORS, "min_size": MIN_SIZE,
                "runtime": {"name": "opencv", "version": self._cv2.__version__}}
