"""Frame sources: image files or a folder, .npy/.npz frame stacks, a video file, a camera,
synthetic frames. Device side (numpy; cv2 for video/camera, cv2 or Pillow for image files).

Spec strings (the --source option):
  photo.png | a/folder            image files (sorted), decoded per frame: decode is acquisition
  frames.npy | frames.npz         uint8 (N, H, W[, C]) / one array per frame (the host ships
                                  decoded photos this way to boards without an image decoder)
  clip.mp4 (.avi .mkv .mov ...)   a video file (OpenCV), looped at its end
  camera:0                        a camera (OpenCV VideoCapture index)
  synthetic[:WxH]                 deterministic noise frames (no face), default 640x480

`get(k)` returns frame k (sources shorter than the run are cycled); `n_frames` is the natural
length (None for a camera or synthetic frames).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline import imaging

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
_SYNTHETIC_POOL = 8  # distinct synthetic frames, cycled (generating noise per frame would be timed)


class FrameSource:
    kind = "source"
    n_frames: int | None = None

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.decoded_by: str | None = None
        self.width: int | None = None
        self.height: int | None = None

    def get(self, k: int) -> np.ndarray:
        """Frame k as uint8 RGB (H, W, 3): the timed acquisition stage."""
        raise NotImplementedError

    def skip(self, k: int) -> None:
        """Frame k arrived but is dropped (camera-paced mode): sequential sources consume it."""

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "n_frames": self.n_frames, "width": self.width,
                "height": self.height, "decoded_by": self.decoded_by}


class ImageFiles(FrameSource):
    kind = "images"

    def __init__(self, spec: str, paths: list[str]) -> None:
        super().__init__(spec)
        self.paths = paths
        self.n_frames = len(paths)
        self.decoded_by = imaging.image_decoder()
        first = imaging.decode_image(paths[0])  # fail before timing on an unreadable first file
        self.height, self.width = first.shape[:2]

    def get(self, k: int) -> np.ndarray:
        return imaging.decode_image(self.paths[k % self.n_frames])


class NpyFrames(FrameSource):
    kind = "npy"

    def __init__(self, spec: str, path: str) -> None:
        super().__init__(spec)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise EdgeferError(f"cannot read frames {path}: {exc}") from None
        if isinstance(data, np.lib.npyio.NpzFile):
            self.frames = [imaging.as_rgb(data[name], path) for name in sorted(data.files)]
            data.close()
        else:
            arr = np.asarray(data)
            stack = arr[None] if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4)) else arr
            self.frames = [imaging.as_rgb(f, path) for f in stack]
        if not self.frames:
            raise EdgeferError(f"{path} holds no frames")
        self.n_frames = len(self.frames)
        self.height, self.width = self.frames[0].shape[:2]
        self.decoded_by = "none (raw uint8 pixels)"

    def get(self, k: int) -> np.ndarray:
        # a copy, as a capture would deliver a fresh buffer; the copy is acquisition time
        return self.frames[k % self.n_frames].copy()


class VideoSource(FrameSource):
    """A video file or a camera through OpenCV's VideoCapture (sequential)."""

    def __init__(self, spec: str, device: str | int, kind: str) -> None:
        super().__init__(spec)
        self.kind = kind
        cv2 = imaging.require_cv2(f"source {spec}")
        self._cv2, self._device = cv2, device
        self.cap = cv2.VideoCapture(device)
        ok, bgr = (self.cap.read() if self.cap.isOpened() else (False, None))
        if not ok or bgr is None:
            self.cap.release()
            what = f"no camera {device} (cannot open it)" if kind == "camera" else f"cannot read video {device}"
            raise EdgeferError(what)
        self._pending = bgr  # frame 0, already read to check the source
        self.height, self.width = bgr.shape[:2]
        self.decoded_by = "cv2"
        if kind == "video":
            n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.n_frames = n if n > 0 else None

    def _read(self) -> np.ndarray:
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self.cap.read()
            if not ok and self.kind == "video":  # loop a file at its end
                self.cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self.cap.read()
            if not ok:
                raise EdgeferError(f"source {self.spec} stopped delivering frames")
        return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)

    def get(self, k: int) -> np.ndarray:
        return self._read()

    def skip(self, k: int) -> None:
        if self.kind == "camera":
            return  # a live camera has overwritten it already; grabbing would wait for the next one
        if self._pending is not None:
            self._pending = None
        elif not self.cap.grab():  # a file: step over the frame (no decode), loop at the end
            self.cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self) -> None:
        self.cap.release()


class SyntheticFrames(FrameSource):
    kind = "synthetic"

    def __init__(self, spec: str, width: int, height: int) -> None:
        super().__init__(spec)
        self.width, self.height = width, height
        rng = np.random.default_rng(0)
        self.pool = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(_SYNTHETIC_POOL)]
        self.decoded_by = "none (generated)"

    def get(self, k: int) -> np.ndarray:
        return self.pool[k % _SYNTHETIC_POOL].copy()


def _synthetic_size(spec: str) -> tuple[int, int]:
    _, _, size = spec.partition(":")
    if not size:
        return 640, 480
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise EdgeferError(f"invalid source '{spec}' (expected synthetic or synthetic:WIDTHxHEIGHT)") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise EdgeferError(f"invalid source '{spec}': width and height must be 16..8192")
    return w, h


def open_source(spec: str) -> FrameSource:
    """The source a --source string names; a missing or unreadable one raises EdgeferError."""
    if not spec:
        raise EdgeferError("--source is empty")
    if spec == "synthetic" or spec.startswith("synthetic:"):
        return SyntheticFrames(spec, *_synthetic_size(spec))
    if spec.startswith("camera:"):
        index = spec.partition(":")[2]
        if not index.isdigit():
            raise EdgeferError(f"invalid source '{spec}' (expected camera:N, e.g. camera:0)")
        return VideoSource(spec, int(index), "camera")
    if os.path.isdir(spec):
        paths = sorted(os.path.join(spec, f) for f in os.listdir(spec)
                       if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(spec, f)))
        if not paths:
            raise EdgeferError(f"folder {spec} has no image files ({', '.join(IMAGE_EXTENSIONS)})")
        return ImageFiles(spec, paths)
    ext = os.path.splitext(spec)[1].lower()
    if not os.path.exists(spec):
        what = "video" if ext in VIDEO_EXTENSIONS else "source"
        raise EdgeferError(f"{what} not found: {spec}")
    if ext in (".npy", ".npz"):
        return NpyFrames(spec, spec)
    if ext in VIDEO_EXTENSIONS:
        return VideoSource(spec, spec, "video")
    if ext in IMAGE_EXTENSIONS:
        return ImageFiles(spec, [spec])
    raise EdgeferError(f"cannot tell what source {spec} is (an image, a folder, .npy/.npz frames, a video, "
                       "camera:N or synthetic[:WxH])")
