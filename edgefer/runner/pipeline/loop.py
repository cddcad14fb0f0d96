"""The frame loop: acquire -> detect -> crop/preprocess -> classify -> postprocess, timed per
stage, free-running or camera-paced (device side).

Camera-paced mode models a camera that delivers frame k at t0 + k/fps into a one-frame buffer
(as V4L2/OpenCV captures do when the consumer is slow): when the pipeline is free it takes the
newest frame that has arrived; frames that arrived meanwhile and were overwritten are
*dropped*; a processed frame that finishes after its deadline (its arrival + one period) is
*late*. Deadline misses = dropped + late. Queueing delay = start of processing - arrival.

Every per-frame number is appended to caller-owned lists as soon as it is measured, so an
interrupt keeps everything measured up to the frame in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

STAGES = ("acquire", "detect", "preprocess", "classify", "postprocess")
FRAME_FIELDS = ("index", "arrival_ns", "start_ns", "end_ns", *(f"{s}_ns" for s in STAGES),
                "detect_runtime_ns", "classify_runtime_ns", "e2e_ns", "faces", "late")


@dataclass
class FrameLog:
    """Columnar per-frame record; times are perf_counter_ns relative to `t0_ns`."""

    t0_ns: int = 0
    columns: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in FRAME_FIELDS})
    dropped_arrivals_ns: list[int] = field(default_factory=list)  # arrival times of dropped frames
    results: list[dict[str, Any]] = field(default_factory=list)  # detections + labels of the first frames
    classifications: int = 0

    @property
    def n(self) -> int:
        return len(self.columns["index"])


@dataclass
class LoopSettings:
    frames: int | None = None  # stop after this many processed frames
    fps: float | None = None  # camera-paced when set
    duration_s: float | None = None  # stop after this long (paced: frames offered = fps x duration)
    warmup: int = 3
    crop_margin: float = 0.1
    keep_results: int = 100


def _process(frame_idx: int, source, detector, classifier, margin: float, log: FrameLog,
             keep: bool, clock: Callable[[], int]) -> tuple[list[int], int, int, int]:
    """One frame through the stages -> (stage ns list, detect runtime ns, classify runtime ns, faces)."""
    t0 = clock()
    frame = source.get(frame_idx)
    t1 = clock()
    det = detector.run(frame)
    t2 = clock()
    feeds = [classifier.prepare(frame, box, margin) for box in det.boxes]
    t3 = clock()
    outs, cls_rt = [], 0
    for feed in feeds:
        y, ns = classifier.classify(feed)
        outs.append(y)
        cls_rt += ns
    t4 = clock()
    labels = [classifier.postprocess(y) for y in outs]
    if keep:
        log.results.append({
            "frame": frame_idx, "width": int(frame.shape[1]), "height": int(frame.shape[0]),
            "boxes": [[round(float(v), 2) for v in b] for b in det.boxes],
            "scores": None if det.scores is None else [round(float(s), 4) for s in det.scores],
            "labels": [classifier.class_names[k] for k, _ in labels], "probs": [round(p, 4) for _, p in labels]})
    t5 = clock()
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4], det.runtime_ns, cls_rt, len(det.boxes)


def warm_up(source, detector, classifier, n: int, margin: float) -> None:
    scratch = FrameLog()
    for k in range(n):
        _process(k, source, detector, classifier, margin, scratch, False, time.perf_counter_ns)


def run_loop(source, detector, classifier, s: LoopSettings, log: FrameLog) -> None:
    """Fill `log` until the frame count or the duration is reached (or an interrupt)."""
    clock = time.perf_counter_ns
    cols = log.columns
    period = int(1e9 / s.fps) if s.fps else 0
    duration = int(s.duration_s * 1e9) if s.duration_s else None
    t0 = log.t0_ns = clock()
    next_idx = 0  # next frame index to take (paced: arrivals; free: frames processed)
    processed = 0
    while True:
        now = clock()
        if duration is not None and now - t0 >= duration:
            break
        if s.frames is not None and processed >= s.frames:
            break
        if period:
            newest = (now - t0) // period  # index of the newest frame that has arrived
            if newest < next_idx:
                wait = t0 + next_idx * period - now
                if duration is not None and next_idx * period >= duration:
                    break  # the next frame would arrive after the run ends
                time.sleep(wait / 1e9)
                continue
            for k in range(next_idx, newest):  # overwritten in the one-frame buffer
                source.skip(k)
                log.dropped_arrivals_ns.append(k * period)
            next_idx = newest
            arrival = t0 + next_idx * period
        else:
            arrival = now
        begin = clock()
        stages, det_rt, cls_rt, faces = _process(next_idx, source, detector, classifier, s.crop_margin, log,
                                                 log.n < s.keep_results, clock)
        log.classifications += faces
        end = clock()
        cols["index"].append(next_idx)
        cols["arrival_ns"].append(arrival - t0)
        cols["start_ns"].append(begin - t0)
        cols["end_ns"].append(end - t0)
        for name, ns in zip(STAGES, stages):
            cols[f"{name}_ns"].append(ns)
        cols["detect_runtime_ns"].append(det_rt)
        cols["classify_runtime_ns"].append(cls_rt)
        cols["faces"].append(faces)
        cols["late"].append(int(bool(period) and end > arrival + period))
        cols["e2e_ns"].append(end - begin)  # appended last: a row is complete once e2e is there
        next_idx += 1
        processed += 1
    if period and duration is not None and s.frames is None:
        # frames that arrived before the end but found the pipeline busy until then: dropped too,
        # so offered = processed + dropped = every frame the camera delivered in the window
        log.dropped_arrivals_ns.extend(k * period for k in range(next_idx, -(-duration // period)))


def complete_rows(log: FrameLog) -> dict[str, np.ndarray]:
    """Columns cut to the frames whose row was fully written (an interrupt can land mid-row)."""
    n = len(log.columns["e2e_ns"])
    return {k: np.asarray(v[:n], dtype=np.int64) for k, v in log.columns.items()}
