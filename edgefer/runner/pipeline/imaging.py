"""Pixel helpers for the pipeline (device side: numpy; cv2 / Pillow used only when present).

Frames are uint8 RGB arrays (H, W, 3) everywhere in the pipeline. Both resize backends follow
edgefer's training preprocessing (Pillow's bilinear filter, antialiased when shrinking): the
numpy one computes Pillow's filter weights, the OpenCV one uses INTER_AREA to shrink and
INTER_LINEAR to enlarge; which one ran is recorded in the report.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError

RESIZE_BACKENDS = ("auto", "numpy", "cv2")


@functools.lru_cache(maxsize=1)
def cv2_module() -> Any | None:
    """OpenCV if importable here, else None (it is optional on boards)."""
    try:
        import cv2
    except ImportError:
        return None
    # the resizes here are small (a 128x128 letterbox, a 48x48 crop): OpenCV's worker threads
    # cost more to wake than they save, and they compete with the runtimes' own threads
    cv2.setNumThreads(1)
    return cv2


@functools.lru_cache(maxsize=1)
def pil_image() -> Any | None:
    try:
        from PIL import Image

        return Image
    except ImportError:
        return None


def require_cv2(why: str) -> Any:
    cv2 = cv2_module()
    if cv2 is None:
        raise EdgeferError(f"{why} needs OpenCV, which is not installed here",
                           hint="pip install opencv-python-headless")
    return cv2


def resize_backend(choice: str = "auto") -> str:
    if choice not in RESIZE_BACKENDS:
        raise EdgeferError(f"invalid --resize '{choice}' (choose from: {', '.join(RESIZE_BACKENDS)})")
    if choice == "auto":
        return "cv2" if cv2_module() is not None else "numpy"
    if choice == "cv2":
        require_cv2("--resize cv2")
    return choice


@functools.lru_cache(maxsize=64)
def _triangle_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's bilinear filter as taps: (n_out, K) source indices and weights of a triangle over
    source pixel centres, widened by the shrink factor when shrinking (antialiasing), rows
    normalised to 1. Taps, not a dense matrix product: small BLAS calls are slow on busy boards."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out, dtype=np.float64) + 0.5) * scale
    first = np.floor(centres - support).astype(np.intp)
    k = int(np.ceil(2 * support)) + 2
    idx = first[:, None] + np.arange(k)[None, :]
    w = np.clip(1.0 - np.abs((idx + 0.5 - centres[:, None]) / support), 0.0, None)
    w[(idx < 0) | (idx >= n_in)] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    return np.clip(idx, 0, n_in - 1), w.astype(np.float32)


def resize_numpy(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pillow-like bilinear resize of (H, W) or (H, W, C) -> float32 (h, w[, C]), separable taps."""
    src = img
    iy, wy = _triangle_taps(src.shape[0], h)
    ix, wx = _triangle_taps(src.shape[1], w)
    wy = wy.reshape(*wy.shape, *(1,) * (src.ndim - 1))  # (h, K, 1[, 1]) against (h, W[, C])
    wx = wx.reshape(*wx.shape, *(1,) * (src.ndim - 2))  # (w, K[, 1]) against (h, w[, C])
    rows = np.zeros((h, *src.shape[1:]), np.float32)
    for k in range(iy.shape[1]):
        rows += src[iy[:, k]] * wy[:, k]
    out = np.zeros((h, w, *src.shape[2:]), np.float32)
    for k in range(ix.shape[1]):
        out += rows[:, ix[:, k]] * wx[:, k]
    return out


@functools.lru_cache(maxsize=64)
def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # source coordinate of each output pixel centre (half-pixel convention), clamped to the edge
    x = np.clip((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    x0 = np.floor(x).astype(np.intp)
    return x0, np.minimum(x0 + 1, n_in - 1), (x - x0).astype(np.float32)


def bilinear_numpy(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Plain bilinear sampling (no antialiasing) of (H, W, C) -> float32, like INTER_LINEAR."""
    y0, y1, wy = _axis(img.shape[0], h)
    x0, x1, wx = _axis(img.shape[1], w)
    top = img[y0].astype(np.float32)
    rows = top + (img[y1] - top) * wy[:, None, None]
    left = rows[:, x0]
    return left + (rows[:, x1] - left) * wx[None, :, None]


def resize(img: np.ndarray, h: int, w: int, backend: str, antialias: bool = True) -> np.ndarray:
    """Resize. antialias=True (the classifier crop) follows edgefer's training preprocessing,
    Pillow's bilinear filter: cv2 INTER_AREA to shrink / INTER_LINEAR to enlarge, numpy Pillow's
    weights. antialias=False (the detector letterbox) is plain bilinear sampling, as MediaPipe's
    CPU image-to-tensor does. cv2 keeps the dtype (uint8 in, uint8 out); numpy gives float32."""
    if img.shape[0] == h and img.shape[1] == w:
        return img
    if backend == "cv2":
        cv2 = cv2_module()
        shrink = antialias and img.shape[0] > h and img.shape[1] > w
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return resize_numpy(img, h, w) if antialias else bilinear_numpy(img, h, w)


# ITU-R 601-2 luma, the weights Pillow's convert("L") uses (edgefer's training preprocessing)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8/float RGB (H, W, 3) -> float32 (H, W) luma."""
    # three multiply-adds, not `@ _LUMA`: a matrix-vector product goes to BLAS, whose thread pool
    # costs milliseconds to wake on a busy CPU for a few thousand pixels
    f = rgb.astype(np.float32)
    out = f[:, :, 0] * _LUMA[0]
    out += f[:, :, 1] * _LUMA[1]
    out += f[:, :, 2] * _LUMA[2]
    return out


def as_rgb(frame: np.ndarray, what: str) -> np.ndarray:
    """Normalise a decoded frame to uint8 (H, W, 3) RGB (gray expanded, alpha dropped)."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        raise EdgeferError(f"{what}: frames must be uint8 pixels, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] < 1 or a.shape[1] < 1:
        raise EdgeferError(f"{what}: not an image (shape {list(np.shape(frame))})")
    return np.ascontiguousarray(a)


def image_decoder() -> str | None:
    """What decodes image files here: "cv2", "PIL", or None (then only .npy/.npz frames)."""
    if cv2_module() is not None:
        return "cv2"
    if pil_image() is not None:
        return "PIL"
    return None


def decode_image(path: str) -> np.ndarray:
    """An image file -> uint8 RGB (H, W, 3); unreadable -> EdgeferError."""
    decoder = image_decoder()
    if decoder == "cv2":
        cv2 = cv2_module()
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise EdgeferError(f"cannot read image {path}: not an image OpenCV can decode (missing, truncated or another format)")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if decoder == "PIL":
        Image = pil_image()
        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise EdgeferError(f"cannot read image {path}: {exc}") from None
    raise EdgeferError(f"cannot decode image {path}: neither OpenCV nor Pillow is installed here",
                       hint="pass frames as .npy/.npz (edgefer pipeline --target does it on the host), "
                            "or pip install opencv-python-headless")
