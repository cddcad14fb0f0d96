"""Pixel helpers for the pipeline (device side: numpy; cv2 / Pillow used only when present).

Frames are uint8 RGB arrays (H, W, 3) everywhere in the pipeline. Both resize backends follow
edgefer's training preprocessing (Pillow's bilinear filter, antialiased when shrinking): the
numpy one computes Pillow's filter weights, the OpenCV one uses INTER_AREA to shrink and
INTER_LINEAR to enlarge; which one ran is recorded in the report.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline.settings import RESIZE_BACKENDS


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


@functools.lru_cache(maxsize=16)
def _bilinear_plan(in_h: int, in_w: int, h: int, w: int, c: int) -> tuple[np.ndarray, ...]:
    """One geometry's sampling plan (a camera's frames share it): source rows, source byte
    columns of each output value (pixel x channel) in a row, the weights as (h, 1) and (1, w x c)
    (weights broadcast over a 3-long channel axis make numpy's inner loops 3 long: 10x slower),
    and the flat pixel indices of the four neighbours of every output pixel."""
    y0, y1, wy = _axis(in_h, h)
    x0, x1, wx = _axis(in_w, w)
    chan = np.arange(c)
    cols0, cols1 = (x0[:, None] * c + chan).ravel(), (x1[:, None] * c + chan).ravel()
    corners = np.concatenate([(ys[:, None] * in_w + xs[None, :]).ravel() for xs in (x0, x1) for ys in (y0, y1)])
    return y0, y1, cols0, cols1, wy[:, None], np.repeat(wx, c)[None, :], corners


def bilinear_numpy(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Plain bilinear sampling (no antialiasing) of (H, W, C) -> float32, like INTER_LINEAR:
    rows first, then columns, in float32, on (rows, pixel x channel) planes. Shrinking a camera
    frame to a detector's input (more than 3x across), the four neighbours of the output's pixels
    are gathered first, in one take on 8 bits (a 4x shrink reads a sixteenth of the frame); else
    whole rows are interpolated, which is faster there (measured). Both make the same float
    operations per value (tested bit-exact)."""
    in_h, in_w, c = img.shape
    y0, y1, cols0, cols1, wy, wx, corners = _bilinear_plan(in_h, in_w, h, w, c)
    if 3 * w < in_w:
        pixels = np.ascontiguousarray(img).reshape(-1, c).take(corners, axis=0)
        tl, bl, tr, br = pixels.reshape(4, h, w * c)
        top_left, top_right = tl.astype(np.float32), tr.astype(np.float32)
        left = top_left + (bl - top_left) * wy
        right = top_right + (br - top_right) * wy
    else:
        top = img[y0].reshape(h, in_w * c).astype(np.float32)
        rows = top + (img[y1].reshape(h, in_w * c) - top) * wy
        left, right = rows.take(cols0, axis=1), rows.take(cols1, axis=1)
    return (left + (right - left) * wx).reshape(h, w, c)


def resize(img: np.ndarray, h: int, w: int, backend: str, antialias: bool = True) -> np.ndarray:
    """Resize uint8 pixels -> uint8 (H, W[, C]). antialias=True (the classifier crop) follows
    edgefer's training preprocessing, Pillow's bilinear filter: cv2 INTER_AREA to shrink /
    INTER_LINEAR to enlarge, numpy Pillow's own weights. antialias=False (the detector letterbox)
    is plain bilinear sampling, as MediaPipe's CPU image-to-tensor does. Both backends give
    uint8, rounded as Pillow rounds (it resizes 8-bit images in 8 bits)."""
    if img.shape[0] == h and img.shape[1] == w:
        return img
    if backend == "cv2":
        cv2 = cv2_module()
        shrink = antialias and img.shape[0] > h and img.shape[1] > w
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if antialias and (img.shape[0] > h or img.shape[1] > w):
        out = resize_numpy(img, h, w)  # Pillow's filter, widened where it shrinks
    else:  # enlarging both ways Pillow's bilinear filter is plain bilinear sampling: 10x faster here
        out = bilinear_numpy(img if img.ndim == 3 else img[:, :, None], h, w).reshape(h, w, *img.shape[2:])
    out += 0.5  # non-negative weights that sum to 1 keep values in [0, 255]: truncation rounds
    return out.astype(np.uint8)


def scale_to_float(pixels: np.ndarray, scale: float, offset: float, out: np.ndarray, backend: str) -> None:
    """out (float32, pixels' shape) = pixels * scale + offset: one OpenCV call, or two numpy passes."""
    if backend == "cv2":
        cv2 = cv2_module()
        cv2.addWeighted(pixels, scale, pixels, 0.0, offset, dst=out, dtype=cv2.CV_32F)
    else:
        np.multiply(pixels, np.float32(scale), out=out)
        out += np.float32(offset)


# ITU-R 601-2 luma, the weights Pillow's convert("L") uses (edgefer's training preprocessing),
# in Pillow's 16-bit fixed point
_LUMA_FIXED = (19595, 38470, 7471)


def to_gray(rgb: np.ndarray, backend: str) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 luma (H, W), as Pillow's convert("L") (OpenCV's RGB2GRAY
    uses the same weights in 14-bit fixed point: at most 1 apart)."""
    if backend == "cv2":
        return cv2_module().cvtColor(rgb, cv2_module().COLOR_RGB2GRAY)
    r, g, b = _LUMA_FIXED
    # three multiply-adds in uint32, not a matrix-vector product: that goes to BLAS, whose
    # thread pool costs milliseconds to wake on a busy CPU for a few thousand pixels
    acc = rgb[:, :, 0] * np.uint32(r)
    acc += rgb[:, :, 1] * np.uint32(g)
    acc += rgb[:, :, 2] * np.uint32(b)
    acc += np.uint32(0x8000)
    acc >>= np.uint32(16)
    return acc.astype(np.uint8)


# the depths cv2.LUT writes (its table's depth) that a model input can have
_CV2_LUT_DTYPES = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.float32))


class PixelTable:
    """A model's input map per 8-bit pixel value, as a look-up table: for each channel,
    value = quantize(pixel * a + b) (a holds the 1/255). Scaling, mean/std and the int8
    quantization of a face crop are then one table look-up per channel instead of four float
    passes (and the values are exactly those of the float formula on the 8-bit pixels the
    training preprocessing sees)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, channels: int, dtype: np.dtype,
                 quantize: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        levels = np.arange(256, dtype=np.float32)[:, None]
        a = np.broadcast_to(np.asarray(a, np.float32).reshape(1, -1), (1, channels))
        b = np.broadcast_to(np.asarray(b, np.float32).reshape(1, -1), (1, channels))
        values = levels * a + b  # (256, C) float32, the same float ops as the unrolled formula
        table = quantize(values) if quantize is not None else values.astype(dtype)
        self.dtype, self.channels = np.dtype(table.dtype), channels
        self.table = np.ascontiguousarray(table)  # (256, C)
        self._planes = [np.ascontiguousarray(self.table[:, c]) for c in range(channels)]
        self._table_hwc = self.table.reshape(256, 1, channels)  # cv2.LUT's multi-channel table
        self._split: list[np.ndarray] | None = None  # cv2.split's planes, reused: a crop's size is the model's
        self._by_channel = np.ascontiguousarray(self.table.T).reshape(-1)  # [c x 256 + value]
        self._offsets: np.ndarray | None = None

    def to_tensor(self, pixels: np.ndarray, layout: str, backend: str) -> np.ndarray:
        """uint8 (H, W) for one channel or (H, W, C) -> (1, C, H, W) or (1, H, W, C) in the
        model's dtype. With OpenCV: NHWC one LUT with a table per channel; NCHW one LUT per plane
        written straight into the tensor (a 3-channel LUT plus a transpose costs twice as much)."""
        h, w = pixels.shape[:2]
        cv2 = cv2_module() if backend == "cv2" and self.dtype in _CV2_LUT_DTYPES else None
        if self.channels == 1:
            x = cv2.LUT(pixels, self._planes[0]) if cv2 is not None else self._planes[0][pixels]
            return x.reshape(1, 1, h, w) if layout == "NCHW" else x.reshape(1, h, w, 1)
        if cv2 is not None and layout != "NCHW":
            return cv2.LUT(pixels, self._table_hwc)[None]  # one LUT with a table per channel
        if cv2 is not None:
            # into the previous crop's planes (the model's input size, every frame): a fresh
            # allocation per plane costs as much as the split itself
            planes = self._split = list(cv2.split(pixels, self._split))
            out = np.empty((1, self.channels, h, w), self.dtype)
            for c, (p, t) in enumerate(zip(planes, self._planes)):
                cv2.LUT(p, t, dst=out[0, c])
            return out
        # numpy, NCHW: one take per plane, straight into the tensor
        if layout == "NCHW":
            out = np.empty((1, self.channels, h, w), self.dtype)
            for c, t in enumerate(self._planes):
                np.take(t, pixels[:, :, c], out=out[0, c])
            return out
        # NHWC: one take from the channel-major table at value + 256 x channel (an offsets
        # array of the crop's size, kept: writing plane by plane into a stride-3 tensor is 5x slower)
        if self._offsets is None or self._offsets.shape != (h, w * self.channels):
            self._offsets = np.tile(np.arange(self.channels, dtype=np.uint16) * 256, h * w).reshape(h, -1)
        return self._by_channel.take(pixels.reshape(h, -1) + self._offsets).reshape(1, h, w, self.channels)


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
