"""A lazily decoded labelled (or unlabelled) set of samples.

Loaders only index the source (labels, file names, CSV rows); pixels are decoded for the
indices actually used, so a calibration sample of 200 images from FER2013 or a big folder
does not decode the whole set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Dataset:
    source: str  # what the user passed, for messages and the manifest
    kind: str  # "fer2013_csv" | "image_folder" | "npy"
    labels: np.ndarray | None  # int64 class indices in the model's class order, or None
    size: int
    _decode: Callable[[np.ndarray], np.ndarray]  # indices -> float32 NCHW (preprocessed)

    def __len__(self) -> int:
        return self.size

    def take(self, indices: np.ndarray) -> np.ndarray:
        return self._decode(np.asarray(indices, dtype=np.int64))

    def describe(self, indices: np.ndarray | None = None, class_names: list[str] | None = None) -> dict:
        """Manifest record: source, kind, samples used and class counts (by name when given)."""
        n = self.size if indices is None else len(indices)
        d: dict = {"source": self.source, "kind": self.kind, "samples": int(n), "available": int(self.size)}
        if self.labels is not None:
            y = self.labels if indices is None else self.labels[indices]
            counts = np.bincount(y, minlength=len(class_names or []))
            d["class_counts"] = {(class_names[c] if class_names else str(c)): int(k) for c, k in enumerate(counts)}
        return d


def select(ds: Dataset, n: int | None, seed: int = 0) -> np.ndarray:
    """Indices of up to `n` samples, class-stratified when labels exist (all when n is None).

    Stratified: each class gets a share proportional to its frequency but at least one sample,
    so rare classes (FER2013 disgust is 1.5 %) are present in the calibration set.
    """
    size = len(ds)
    if n is None or n >= size:
        return np.arange(size)
    rng = np.random.default_rng(seed)
    if ds.labels is None:
        return np.sort(rng.choice(size, n, replace=False))
    classes, counts = np.unique(ds.labels, return_counts=True)
    quota = np.maximum(1, np.floor(counts / size * n)).astype(int)
    quota = np.minimum(quota, counts)
    # hand the rounding remainder to the classes with the largest unfilled share
    while quota.sum() < n:
        room = counts - quota
        k = int(np.argmax(np.where(room > 0, counts / size * n - quota, -np.inf)))
        quota[k] += 1
    while quota.sum() > n:  # only when n < number of classes
        quota[int(np.argmax(quota))] -= 1
    picked = [rng.choice(np.flatnonzero(ds.labels == c), q, replace=False) for c, q in zip(classes, quota) if q > 0]
    return np.sort(np.concatenate(picked))


def random_inputs(spec, n: int, seed: int = 0) -> np.ndarray:
    """`n` preprocessed inputs made from uniformly random pixels (the no-data fallback)."""
    rng = np.random.default_rng(seed)
    x01 = rng.integers(0, 256, size=spec.shape(n), dtype=np.uint8).astype(np.float32) / 255.0
    return spec.normalize(x01)
