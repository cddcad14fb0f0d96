"""NumPy arrays: `.npz` with `x` (and optional `y`), or `.npy` images with optional `<stem>_labels.npy`.

`x` is either raw uint8 images (N, H, W) / (N, H, W, C), preprocessed like any image, or
float32 (N, C, H, W) already preprocessed for this model (used as is; shape checked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgefer.data.dataset import Dataset
from edgefer.errors import EdgeferError


def _load(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "x" not in z:
                    raise EdgeferError(f"{path}: .npz needs an array named 'x' (and optionally 'y'); has {list(z)}")
                return z["x"], (z["y"] if "y" in z else None)
        x = np.load(path, allow_pickle=False)
        lab = path.with_name(f"{path.stem}_labels.npy")
        return x, (np.load(lab, allow_pickle=False) if lab.exists() else None)
    except (OSError, ValueError) as exc:
        raise EdgeferError(f"cannot read {path}: {exc}") from None


def load_npy(path: Path, spec, num_classes: int) -> Dataset:
    x, y = _load(path)
    if x.dtype == np.uint8 and x.ndim in (3, 4):
        def decode(indices: np.ndarray) -> np.ndarray:
            return spec.preprocess([x[i] for i in indices])
    elif x.dtype.kind == "f" and x.ndim == 4:
        if tuple(x.shape[1:]) != spec.shape()[1:]:
            raise EdgeferError(f"{path}: float arrays must be preprocessed NCHW {list(spec.shape()[1:])}, "
                f"got {list(x.shape[1:])}")

        def decode(indices: np.ndarray) -> np.ndarray:
            return x[indices].astype(np.float32)
    else:
        raise EdgeferError(
            f"{path}: expected uint8 images (N,H,W[,C]) or float32 NCHW, got {x.dtype} {list(x.shape)}"
        )
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(x),) or y.dtype.kind not in "iu":
            raise EdgeferError(f"{path}: labels must be {len(x)} integers, got {y.dtype} {list(y.shape)}")
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise EdgeferError(f"{path}: labels must be class indices 0..{num_classes - 1}")
        y = y.astype(np.int64)
    if len(x) == 0:
        raise EdgeferError(f"{path}: no samples")
    return Dataset(str(path), "npy", y, len(x), decode)
