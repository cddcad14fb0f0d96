"""The expression classifier stage: face crop -> the model's preprocessing -> logits -> label.

Device side. Preprocessing comes from the artifact's manifest.json (`input`: size, channels,
grayscale/RGB, mean/std, exactly what convert verified with) when there is one beside the
file; for a foreign .onnx/.tflite it is read off the model's input (1 channel = grayscale,
3 = RGB, size from the shape) with pixels scaled to [0, 1] and no mean/std, and the report
says it was assumed.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Sequence

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline import imaging
from edgefer.runner.runtimes import open_runtime
from edgefer.runner.runtimes.base import quantize

FER7_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # edgefer.zoo's order
MANIFEST_NAME = "manifest.json"


def read_manifest_beside(path: str) -> dict[str, Any] | None:
    """The conversion manifest next to an artifact file, if it lists that file."""
    mpath = os.path.join(os.path.dirname(os.path.abspath(path)), MANIFEST_NAME)
    try:
        with open(mpath, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    files = {a.get("file") for a in manifest.get("artifacts", []) if isinstance(a, dict)}
    return manifest if os.path.basename(path) in files else None


def square_crop(box: Sequence[float], width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """The face crop around a box: a square of side = the box's longest side x (1 + margin), on the
    box's centre, clipped to the frame, at least one pixel -> x1, y1, x2, y2 (x2, y2 exclusive).
    Python floats: numpy scalar arithmetic is slower (the loop passes boxes.tolist())."""
    bx1, by1, bx2, by2 = box
    cx, cy = (bx1 + bx2) / 2, (by1 + by2) / 2
    half = max(bx2 - bx1, by2 - by1) * (1 + margin) / 2
    x1, y1 = max(0, int(cx - half)), max(0, int(cy - half))
    x2, y2 = min(width, math.ceil(cx + half)), min(height, math.ceil(cy + half))
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


class FaceClassifier:
    def __init__(self, path: str, *, runtime: str | None = None, threads: int | None = None,
                 resize_backend: str = "numpy", manifest: dict[str, Any] | None = None) -> None:
        self.path = path
        self.resize_backend = resize_backend
        self.manifest = manifest if manifest is not None else read_manifest_beside(path)
        spec_in = (self.manifest or {}).get("input") or {}
        options: dict[str, Any] = {}
        self.rt = open_runtime(path, runtime, threads, **options)
        self._check_and_describe(spec_in)

    def _fail(self, why: str) -> EdgeferError:
        return EdgeferError(f"classifier {os.path.basename(self.path)} cannot take a face crop: {why}")

    def _check_and_describe(self, spec_in: dict[str, Any]) -> None:
        ins, outs = self.rt.inputs, self.rt.outputs
        if len(ins) != 1:
            raise self._fail(f"it has {len(ins)} inputs (an image classifier has one)")
        info = ins[0]
        shape = info.shape
        if len(shape) != 4 or info.layout not in ("NCHW", "NHWC"):
            raise self._fail(f"its input {shape} is not a 4-D image tensor")
        c, h, w = (shape[1], shape[2], shape[3]) if info.layout == "NCHW" else (shape[3], shape[1], shape[2])
        if c not in (1, 3):
            raise self._fail(f"its input {shape} has {c} channels (expected 1 = grayscale or 3 = RGB)")
        if shape[0] not in (None, 1):
            raise self._fail(f"its input {shape} has a fixed batch of {shape[0]} (one face crop is a batch of 1)")
        size = spec_in.get("input_size")
        if h is None or w is None:
            if not size:
                raise self._fail(f"its input {shape} has a dynamic size and no manifest says which")
            h, w = int(size[0]), int(size[1])
        if np.dtype(info.dtype).kind not in "fiu":
            raise self._fail(f"its input dtype {info.dtype} is not numeric")
        if not outs or len(outs[0].shape) != 2 or (outs[0].shape[1] or 0) < 2:
            raise self._fail(f"its output {outs[0].shape if outs else None} is not (1, classes) logits")
        pre = spec_in.get("preprocessing") or {}
        if pre:
            color = pre.get("color")
            if (color == "grayscale") != (c == 1):
                raise self._fail(f"the manifest says {color} but the model has {c} channel(s)")
            mean, std, origin = pre.get("mean") or [0.0], pre.get("std") or [1.0], "manifest"
        else:
            color, mean, std = ("grayscale" if c == 1 else "rgb"), [0.0], [1.0]
            origin = "model input (assumed: pixels scaled to [0, 1], no mean/std)"
        self.c, self.h, self.w, self.color, self.layout = int(c), int(h), int(w), color, info.layout
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.inv_std = (1.0 / np.asarray(std, np.float32)).reshape(-1)
        self.in_info, self.out_info = info, outs[0]
        self.quantized_in = np.dtype(info.dtype).kind in "iu"
        # scale 1/255, mean/std and the input's quantization as one table per channel:
        # x = quantize(pixel * (1/255/std) + (-mean/std))
        self.pixel_table = imaging.PixelTable(
            self.inv_std / 255.0, -self.mean * self.inv_std, self.c, np.dtype(info.dtype),
            quantize=(lambda v: quantize(v, info)) if self.quantized_in else None)
        q = outs[0].quantization or {}
        self._out_quant = ((float(q.get("scale") or 1.0), int(q.get("zero_point") or 0))
                           if np.dtype(outs[0].dtype).kind in "iu" and q else None)
        n_classes = int(outs[0].shape[1])
        names = (self.manifest or {}).get("class_names")
        if not names or len(names) != n_classes:
            names = list(FER7_CLASSES) if n_classes == 7 else [f"class_{k}" for k in range(n_classes)]
        self.class_names = list(names)
        self.preprocessing = {"color": color, "input_size": [self.h, self.w], "mean": [float(v) for v in self.mean],
                              "std": [float(1 / v) for v in self.inv_std], "layout": self.layout,
                              "resize": self.resize_backend, "from": origin}

    def prepare(self, frame: np.ndarray, box: Sequence[float], margin: float) -> np.ndarray:
        """Square crop around the box (side = longest side x (1 + margin)), clipped to the frame,
        -> grayscale/RGB -> resize -> (x/255 - mean)/std -> the model's layout and dtype."""
        x1, y1, x2, y2 = square_crop(box, frame.shape[1], frame.shape[0], margin)
        crop = frame[y1:y2, x1:x2]
        # the training preprocessing's order and precision (InputSpec.preprocess: Pillow's
        # convert("L"), then an 8-bit resize, then /255 and mean/std): luma first, on 8 bits
        if self.c == 1:
            crop = imaging.to_gray(crop, self.resize_backend)
        img = imaging.resize(crop, self.h, self.w, self.resize_backend)
        return self.pixel_table.to_tensor(img, self.layout, self.resize_backend)

    def classify(self, feed: np.ndarray) -> tuple[np.ndarray, int]:
        """The runtime call alone: -> (raw first output, ns)."""
        t0 = time.perf_counter_ns()
        y = self.rt.run([feed])[0]
        return y, time.perf_counter_ns() - t0

    def postprocess(self, y: np.ndarray) -> tuple[int, float]:
        """logits -> (class index, softmax probability). A handful of values: plain Python
        floats beat numpy's per-call cost here."""
        z = y.tolist()[0]  # (1, classes): one numpy call
        if self._out_quant is not None:
            scale, zp = self._out_quant
            z = [(v - zp) * scale for v in z]
        top = max(z)
        return z.index(top), 1.0 / math.fsum(math.exp(v - top) for v in z)

    def describe(self) -> dict[str, Any]:
        return {"file": os.path.basename(self.path), "runtime": self.rt.describe(),
                "preprocessing": self.preprocessing, "class_names": self.class_names,
                "model": ((self.manifest or {}).get("model") or {}).get("name")}

    def close(self) -> None:
        self.rt.close()
