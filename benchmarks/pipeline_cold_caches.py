"""The pipeline's glue right after a runtime call (cold caches) beside the same work repeated at once (warm).

    python benchmarks/pipeline_cold_caches.py --classifier edgefer-out/mobilenetv3_large/mobilenetv3_large_fp32.onnx
        [--frames 400] [--threads 1] [--photo astronaut]

Every frame runs the pipeline's steps in the loop's order (letterbox, BlazeFace call, decoding,
crop, classifier call, postprocessing). In threes: the second frame of each three records every
glue step's time where the loop runs it, i.e. right after the runtime call before it (cold); the
third runs each glue step 8 times in a row where it stands and records the later runs (warm:
the steady state a micro-benchmark shows); the first is plain, so the warming never precedes a
recorded frame. --frames of each kind. Both come from the same frames of the same run; printed are
the p50s and their ratio. This is what docs/pipeline.md's "Glue overhead" explains with: most of
the glue is not the work but the caches the runtime calls have just emptied.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

MARGIN = 0.1  # the pipeline's default --crop-margin
WARM_RUNS = 8
STEPS = ("letterbox resize", "letterbox scaling", "first numpy call (score threshold)", "decoding + NMS (all)",
         "crop resize (+ luma)", "crop table -> tensor", "postprocessing")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classifier", required=True, help="an .onnx/.tflite classifier file")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--photo", default="astronaut")
    a = ap.parse_args()

    import skimage.data

    from edgefer.pipeline.resolve import resolve_detector
    from edgefer.runner.pipeline import imaging
    from edgefer.runner.pipeline.classifier import FaceClassifier, square_crop
    from edgefer.runner.pipeline.detectors.blazeface import BlazeFace

    img = np.ascontiguousarray(getattr(skimage.data, a.photo)())
    backend = imaging.resize_backend("auto")
    det = BlazeFace(resolve_detector("blazeface"), threads=a.threads, resize_backend=backend)
    cls = FaceClassifier(a.classifier, threads=a.threads, resize_backend=backend)
    det._letterbox(img)  # geometry and buffers for this frame size
    nh, nw, _, _ = det._lb_geom
    lb = det._lb_f32
    clock = time.perf_counter_ns
    cold: dict[str, list[int]] = {s: [] for s in STEPS}
    warm: dict[str, list[int]] = {s: [] for s in STEPS}
    frames = [img.copy() for _ in range(8)]

    def run_frame(frame: np.ndarray, step) -> None:
        """One frame in the loop's order; every glue step goes through `step(name, thunk)`, which
        runs it (timed or not) and returns its result; the runtime calls run plainly between."""
        resized_lb = step("letterbox resize", lambda: imaging.resize(frame, nh, nw, backend, antialias=False))
        step("letterbox scaling", lambda: imaging.scale_to_float(resized_lb, 2.0 / 255.0, -1.0, lb[0], backend))
        outs = det.rt.run([lb])
        raw_boxes, raw_scores = outs[det.box_out][0], outs[det.score_out][0, :, 0]
        step("first numpy call (score threshold)", lambda: raw_scores > det._min_logit)
        boxes, _ = step("decoding + NMS (all)", lambda: det.decode(raw_boxes, raw_scores))
        if len(boxes) == 0:
            raise SystemExit("error: no face in the photo; the crop steps need one")
        x1, y1, x2, y2 = square_crop(boxes.tolist()[0], frame.shape[1], frame.shape[0], MARGIN)
        crop = frame[y1:y2, x1:x2]
        resized = step("crop resize (+ luma)", lambda: imaging.resize(
            imaging.to_gray(crop, backend) if cls.c == 1 else crop, cls.h, cls.w, backend))
        feed = step("crop table -> tensor", lambda: cls.pixel_table.to_tensor(resized, cls.layout, backend))
        y = cls.rt.run([feed])[0]
        step("postprocessing", lambda: cls.postprocess(y))

    def plain(name, fn):
        return fn()

    def once(name, fn):
        """In the loop: the step once, right after what precedes it (cold)."""
        t0 = clock()
        result = fn()
        cold[name].append(clock() - t0)
        return result

    def repeated(name, fn):
        """Warm: the step WARM_RUNS times in a row, the median of the later runs (steady state)."""
        times = []
        for _ in range(WARM_RUNS):
            t0 = clock()
            result = fn()
            times.append(clock() - t0)
        warm[name].append(int(statistics.median(times[WARM_RUNS // 2:])))
        return result

    for k in range(3 * a.frames + 30):
        # frames in threes: the 2nd records each step once where the loop runs it (after a plain
        # frame), the 3rd repeats each step warm (whose warming only the next, plain frame sees)
        run_frame(frames[k % 8].copy(), plain if k < 30 or k % 3 == 0 else once if k % 3 == 1 else repeated)
    print(f"classifier {a.classifier} ({cls.c}x{cls.h}x{cls.w}, {cls.layout}), BlazeFace short range, photo "
          f"{a.photo} {img.shape[1]}x{img.shape[0]}, {a.frames} frames, threads {a.threads}, resize {backend}")
    print(f"{'glue step':<38} {'in the loop':>12} {'warm':>12} {'ratio':>6}   (us, p50 per frame)")
    total_cold = total_warm = 0.0
    for name in STEPS:
        c, w = statistics.median(cold[name]) / 1e3, statistics.median(warm[name]) / 1e3
        if name != "first numpy call (score threshold)":  # part of the decoding
            total_cold, total_warm = total_cold + c, total_warm + w
        print(f"{name:<38} {c:12.1f} {w:12.1f} {c / w:6.1f}")
    print(f"{'sum (the first numpy call is in decoding)':<38} {total_cold:12.1f} {total_warm:12.1f} "
          f"{total_cold / total_warm:6.1f}")
    det.close()
    cls.close()


if __name__ == "__main__":
    main()
