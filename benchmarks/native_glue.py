"""Would compiled glue meet the 5 % goal? benchmarks/native_glue/glue.c against edgefer's glue, side by side.

    python benchmarks/native_glue.py [--classifier FILE] [--opt=-O2] [--runs 300] [--photo astronaut]

An experiment behind docs/pipeline.md ("Tried and not adopted"): glue.c is compiled here with
`cc OPT -shared -fPIC -ffp-contract=off`, loaded with ctypes, and each of its three functions is
checked against edgefer's own path and then timed warm (the median of --runs calls in a row):

  letterbox   C ef_letterbox (must equal the numpy path bit for bit) vs OpenCV's resize + scaling
              (what the pipeline runs when OpenCV is installed) and the numpy path
  crop        C ef_prepare_crop (must equal Pillow, the training preprocessing, bit for bit) vs
              the pipeline's OpenCV path, for a 48x48 gray int8 tensor and a 224x224 RGB float one
  decoding    C ef_blazeface_decode (boxes within 1e-3 px of BlazeFace.decode) vs BlazeFace.decode,
              warm, and with --classifier also right after that classifier's runtime call (the
              loop's order; C and Python alternate frame by frame)

Needs a C compiler (cc or $CC); nothing of this is part of the edgefer package.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SOURCE = Path(__file__).with_name("native_glue") / "glue.c"
_P, _I, _L, _F, _D = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_float, ctypes.c_double
SIGNATURES = {
    "ef_letterbox": [_P, _L, _P, _P, _P, _I, _P, _P, _P, _I, _P, _I, _I, _I, _F, _F],
    "ef_blazeface_decode": [_P, _I, _P, _I, _I, _P, _F, _F, _I, _D, _P, _D, _P, _P, _I],
    "ef_prepare_crop": [_P, _L, _I, _I, _I, _I, _I, _I, _I, _P, _I, _I, _P],
}


def compile_glue(opt: str, tmp: str) -> ctypes.CDLL:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise SystemExit("error: no C compiler here (cc, gcc or $CC): this experiment compiles glue.c")
    lib_path = os.path.join(tmp, "glue.so")
    subprocess.run([cc, opt, "-shared", "-fPIC", "-ffp-contract=off", "-o", lib_path, str(SOURCE), "-lm"], check=True)
    lib = ctypes.CDLL(lib_path)
    for name, args in SIGNATURES.items():
        getattr(lib, name).argtypes, getattr(lib, name).restype = args, _I
    return lib


def warm_us(fn, runs: int) -> float:
    for _ in range(20):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


def letterbox_rows(lib, det, frame: np.ndarray, runs: int) -> list[tuple[str, float, float, str]]:
    from edgefer.runner.pipeline import imaging

    det._letterbox(frame)
    nh, nw, top, left = det._lb_geom
    s = det.size
    tables = []
    for n_in, n_out in ((frame.shape[0], nh), (frame.shape[1], nw)):
        i0, i1, wt = imaging._axis(n_in, n_out)
        tables += [np.ascontiguousarray(i0, np.int32), np.ascontiguousarray(i1, np.int32),
                   np.ascontiguousarray(wt, np.float32)]
    y0, y1, wy, x0, x1, wx = tables
    dst = np.full((1, s, s, 3), -1.0, np.float32)  # the padding: a black pixel scaled to [-1, 1]

    def c_letterbox():
        rc = lib.ef_letterbox(frame.ctypes.data, frame.strides[0], y0.ctypes.data, y1.ctypes.data, wy.ctypes.data,
                              nh, x0.ctypes.data, x1.ctypes.data, wx.ctypes.data, nw, dst.ctypes.data, s, top, left,
                              2.0 / 255.0, -1.0)
        assert rc == 0, rc

    c_letterbox()
    det.resize_backend = "numpy"
    exact = np.array_equal(dst, det._letterbox(frame))
    numpy_us = warm_us(lambda: det._letterbox(frame), runs)
    det.resize_backend = "cv2"
    cv2_us = warm_us(lambda: det._letterbox(frame), runs)
    return [("letterbox", warm_us(c_letterbox, runs), cv2_us,
             f"numpy path {numpy_us:.1f} us; C == numpy path bit for bit: {exact}")]


def crop_rows(lib, frame: np.ndarray, box, runs: int) -> list[tuple[str, float, float, str]]:
    from PIL import Image

    from edgefer.runner.pipeline import imaging
    from edgefer.runner.pipeline.classifier import square_crop
    from edgefer.runner.runtimes.base import TensorInfo, quantize

    x1, y1, x2, y2 = square_crop(box, frame.shape[1], frame.shape[0], 0.1)
    crop = frame[y1:y2, x1:x2]
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    gray_info = TensorInfo("x", [1, 48, 48, 1], "int8", "NHWC", {"scale": 1 / 127.5, "zero_point": 0})
    cases = [("crop 48x48 gray int8 NHWC", 48, True, "NHWC",
              imaging.PixelTable(np.float32(2 / 255), np.float32(-1), 1, np.dtype(np.int8),
                                 quantize=lambda v: quantize(v, gray_info))),
             ("crop 224x224 RGB float NCHW", 224, False, "NCHW",
              imaging.PixelTable((1 / std) / 255, -mean / std, 3, np.dtype(np.float32)))]
    rows = []
    for what, size, gray, layout, table in cases:
        out = np.empty((1, 1 if gray else 3, size, size) if layout == "NCHW" else (1, size, size, 1 if gray else 3),
                       table.dtype)

        def c_crop():
            rc = lib.ef_prepare_crop(frame.ctypes.data, frame.strides[0], x1, y1, x2, y2, int(gray), size, size,
                                     table.table.ctypes.data, table.dtype.itemsize, int(layout == "NCHW"),
                                     out.ctypes.data)
            assert rc == 0, rc

        def cv2_crop():
            px = imaging.to_gray(crop, "cv2") if gray else crop
            return table.to_tensor(imaging.resize(px, size, size, "cv2"), layout, "cv2")

        c_crop()
        pil = Image.fromarray(np.ascontiguousarray(crop)).convert("L" if gray else "RGB")
        want = table.to_tensor(np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR)), layout, "numpy")
        rows.append((what, warm_us(c_crop, runs), warm_us(cv2_crop, runs),
                     f"C == Pillow bit for bit: {np.array_equal(out, want)}; OpenCV path max diff "
                     f"{float(np.abs(cv2_crop().astype(np.float64) - want).max()):.3g}"))
    return rows


def decode_rows(lib, det, frame: np.ndarray, classifier: str | None, runs: int) -> list[tuple[str, float, float, str]]:
    from edgefer.runner.pipeline.detectors.blazeface import MIN_BOX_SIDE, MIN_SUPPRESSION_THRESHOLD, RAW_SCORE_LIMIT

    det._letterbox(frame)
    to_frame = np.array(det._to_frame, np.float64)
    out_boxes, out_scores = np.empty((det.n_anchors, 4), np.float32), np.empty(det.n_anchors, np.float32)

    def c_decode(raw_boxes, raw_scores):
        k = lib.ef_blazeface_decode(raw_boxes.ctypes.data, raw_boxes.shape[1], raw_scores.ctypes.data,
                                    raw_scores.strides[0] // 4, det.n_anchors, det.anchors_px.ctypes.data,
                                    det._min_logit, RAW_SCORE_LIMIT, 1, MIN_SUPPRESSION_THRESHOLD,
                                    to_frame.ctypes.data, MIN_BOX_SIDE, out_boxes.ctypes.data, out_scores.ctypes.data,
                                    det.n_anchors)
        assert k >= 0, k
        return out_boxes[:k].copy(), out_scores[:k].copy()

    outs = det.rt.run([det._letterbox(frame)])
    rb, rs = outs[det.box_out][0], outs[det.score_out][0, :, 0]
    (cb, cs), (pb, ps) = c_decode(rb, rs), det.decode(rb, rs)
    same = cb.shape == pb.shape and np.allclose(cb, pb, atol=1e-3) and np.allclose(cs, ps)
    rows = [("decoding + NMS, warm", warm_us(lambda: c_decode(rb, rs), runs), warm_us(lambda: det.decode(rb, rs), runs),
             f"{len(pb)} face(s); C == Python path within 1e-3 px: {same}")]
    if classifier:
        from edgefer.runner.pipeline.classifier import FaceClassifier

        cls = FaceClassifier(classifier, threads=1, resize_backend="cv2")
        times: dict[str, list[int]] = {"C": [], "Python": []}
        for k in range(2 * runs + 20):
            outs = det.rt.run([det._letterbox(frame)])
            rb, rs = outs[det.box_out][0], outs[det.score_out][0, :, 0]
            which = "C" if k % 2 else "Python"
            t0 = time.perf_counter_ns()
            boxes, _ = c_decode(rb, rs) if which == "C" else det.decode(rb, rs)
            dt = time.perf_counter_ns() - t0
            cls.rt.run([cls.prepare(frame, boxes.tolist()[0], 0.1)])  # the loop's next runtime call
            if k >= 20:
                times[which].append(dt)
        cls.close()
        rows.append((f"decoding + NMS, in the loop ({os.path.basename(classifier)})",
                     statistics.median(times["C"]) / 1e3, statistics.median(times["Python"]) / 1e3,
                     "right after the BlazeFace call, a classifier call between frames"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classifier", help="an .onnx/.tflite classifier: also time decoding in the loop's order")
    ap.add_argument("--opt", default="-O2", help="the compiler's optimisation flag, written --opt=-O3")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--photo", default="astronaut")
    a = ap.parse_args()

    import skimage.data

    from edgefer.pipeline.resolve import resolve_detector
    from edgefer.runner.pipeline.detectors.blazeface import BlazeFace

    frame = np.ascontiguousarray(getattr(skimage.data, a.photo)())
    det = BlazeFace(resolve_detector("blazeface"), threads=1, resize_backend="cv2")
    boxes, _ = det.decode(*(lambda o: (o[det.box_out][0], o[det.score_out][0, :, 0]))(det.rt.run([det._letterbox(frame)])))
    if len(boxes) == 0:
        sys.exit("error: no face in the photo; the crop and decoding rows need one")
    with tempfile.TemporaryDirectory() as tmp:
        lib = compile_glue(a.opt, tmp)
        rows = letterbox_rows(lib, det, frame, a.runs) + crop_rows(lib, frame, boxes.tolist()[0], a.runs) \
            + decode_rows(lib, det, frame, a.classifier, a.runs)
    det.close()
    print(f"glue.c compiled with {a.opt} -ffp-contract=off; photo {a.photo} {frame.shape[1]}x{frame.shape[0]}; "
          f"median of {a.runs} calls (us)")
    print(f"{'step':<52} {'C':>8} {'edgefer':>8} {'C/edgefer':>9}  check")
    for what, c_us, ours_us, note in rows:
        print(f"{what:<52} {c_us:8.1f} {ours_us:8.1f} {c_us / ours_us:9.2f}  {note}")


if __name__ == "__main__":
    main()
