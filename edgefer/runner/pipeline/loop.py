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


def _process(frame_idx: int, source, detector, classifier, margin: float,
             clock: Callable[[], int]) -> tuple[list[int], Any, int, list[tuple[int, float]], tuple[int, int]]:
    """One frame through the stages -> (stage ns list, detections, classifier runtime ns,
    labels, frame (w, h))."""
    t0 = clock()
    frame = source.get(frame_idx)
    t1 = clock()
    det = detector.run(frame)
    t2 = clock()
    feeds = [classifier.prepare(frame, box, margin) for box in det.boxes.tolist()]
    t3 = clock()
    outs, cls_rt = [], 0
    for feed in feeds:
        y, ns = classifier.classify(feed)
        outs.append(y)
        cls_rt += ns
    t4 = clock()
    labels = [classifier.postprocess(y) for y in outs]
    t5 = clock()
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4], det, cls_rt, labels, (frame.shape[1], frame.shape[0])


def _keep_result(log: FrameLog, frame_idx: int, det, labels, size: tuple[int, int], classifier) -> None:
    """The detections and labels of one of the first frames, for the report (outside the timed
    span: it is the report's bookkeeping, not the application's work)."""
    log.results.append({
        "frame": frame_idx, "width": int(size[0]), "height": int(size[1]),
        "boxes": [[round(float(v), 2) for v in b] for b in det.boxes],
        "scores": None if det.scores is None else [round(float(s), 4) for s in det.scores],
        "labels": [classifier.class_names[k] for k, _ in labels], "probs": [round(p, 4) for _, p in labels]})


def warm_up(source, detector, classifier, n: int, margin: float) -> None:
    for k in range(n):
        _process(k, source, detector, classifier, margin, time.perf_counter_ns)


class CameraClock:
    """When frame k arrives: round(k x 1e9 / fps) ns after the start. Exact on average: an
    integer period would drift (33,333,333 ns at 30 fps puts a 1801st frame 0.6 us before the
    end of a 60 s run, which no pipeline can process: a deadline miss that is the clock's)."""

    def __init__(self, fps: float) -> None:
        self.ns_per_frame = 1e9 / fps

    def arrival(self, k: int) -> int:
        return round(k * self.ns_per_frame)

    def newest(self, elapsed_ns: int) -> int:
        """Index of the newest frame that has arrived by `elapsed_ns` (frame 0 arrives at 0)."""
        k = int(elapsed_ns / self.ns_per_frame)
        while self.arrival(k + 1) <= elapsed_ns:
            k += 1
        while k > 0 and self.arrival(k) > elapsed_ns:
            k -= 1
        return k

    def offered(self, duration_ns: int) -> int:
        """How many frames arrive before `duration_ns`."""
        k = self.newest(duration_ns)
        return k if self.arrival(k) >= duration_ns else k + 1


PROGRESS_EVERY_NS = 500_000_000


def run_loop(source, detector, classifier, s: LoopSettings, log: FrameLog,
             on_progress: Callable[[int, int], None] | None = None) -> None:
    """Fill `log` until the frame count or the duration is reached (or an interrupt);
    `on_progress(frames processed, ns since start)` every PROGRESS_EVERY_NS at most."""
    clock = time.perf_counter_ns
    cols = log.columns
    camera = CameraClock(s.fps) if s.fps else None
    duration = int(s.duration_s * 1e9) if s.duration_s else None
    t0 = log.t0_ns = clock()
    next_idx = 0  # next frame index to take (paced: arrivals; free: frames processed)
    processed = 0
    reported = t0
    while True:
        now = clock()
        if duration is not None and now - t0 >= duration:
            break
        if s.frames is not None and processed >= s.frames:
            break
        if camera is not None:
            newest = camera.newest(now - t0)  # index of the newest frame that has arrived
            if newest < next_idx:
                if duration is not None and camera.arrival(next_idx) >= duration:
                    break  # the next frame would arrive after the run ends
                time.sleep((t0 + camera.arrival(next_idx) - now) / 1e9)
                continue
            for k in range(next_idx, newest):  # overwritten in the one-frame buffer
                source.skip(k)
                log.dropped_arrivals_ns.append(camera.arrival(k))
            next_idx = newest
            arrival = t0 + camera.arrival(next_idx)
            deadline = t0 + camera.arrival(next_idx + 1)  # when the next frame replaces it
        else:
            arrival = now
        begin = clock()
        stages, det, cls_rt, labels, size = _process(next_idx, source, detector, classifier, s.crop_margin, clock)
        end = clock()
        faces = len(det)
        log.classifications += faces
        if log.n < s.keep_results:
            _keep_result(log, next_idx, det, labels, size, classifier)
        cols["index"].append(next_idx)
        cols["arrival_ns"].append(arrival - t0)
        cols["start_ns"].append(begin - t0)
        cols["end_ns"].append(end - t0)
        for name, ns in zip(STAGES, stages):
            cols[f"{name}_ns"].append(ns)
        cols["detect_runtime_ns"].append(det.runtime_ns)
        cols["classify_runtime_ns"].append(cls_rt)
        cols["faces"].append(faces)
        cols["late"].append(int(camera is not None and end > deadline))
        cols["e2e_ns"].append(end - begin)  # appended last: a row is complete once e2e is there
        next_idx += 1
        processed += 1
        if on_progress is not None and end - reported >= PROGRESS_EVERY_NS:
            reported = end
            on_progress(processed, end - t0)
    if camera is not None and duration is not None and s.frames is None:
        # frames that arrived before the end but found the pipeline busy until then: dropped too,
        # so offered = processed + dropped = every frame the camera delivered in the window
        log.dropped_arrivals_ns.extend(camera.arrival(k) for k in range(next_idx, camera.offered(duration)))


def complete_rows(log: FrameLog) -> dict[str, np.ndarray]:
    """Columns cut to the frames whose row was fully written (an interrupt can land mid-row)."""
    n = len(log.columns["e2e_ns"])
    return {k: np.asarray(v[:n], dtype=np.int64) for k, v in log.columns.items()}
