"""FER2013 CSV: `emotion,pixels,Usage`, 48x48 grayscale pixels as space-separated integers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgefer.data.dataset import Dataset
from edgefer.errors import EdgeferError

SIDE = 48


def load_fer2013_csv(path: Path, spec, num_classes: int, split: str | None) -> Dataset:
    """Index the rows of `split` (all rows when the file has no Usage column or split is None).

    Every row of the split is checked (label range and pixel count) so a bad row is reported
    with its line number before anything is converted.
    """
    labels: list[int] = []
    pixels: list[str] = []
    seen_splits: set[str] = set()
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in (reader.fieldnames or [])]
            if "emotion" not in fields or "pixels" not in fields:
                raise EdgeferError(f"{path}: not a FER2013 CSV (need columns emotion,pixels[,Usage]; got {fields})")
            reader.fieldnames = fields
            if "Usage" not in fields:  # a CSV without splits: use every row
                split = None
            for row in reader:
                line = reader.line_num
                usage = (row.get("Usage") or "").strip()
                seen_splits.add(usage)
                if split is not None and usage != split:
                    continue
                label, pix = (row.get("emotion") or "").strip(), row.get("pixels") or ""
                if not label.lstrip("-").isdigit() or not 0 <= int(label) < num_classes:
                    raise EdgeferError(f"{path} line {line}: emotion {label!r} is not a class index 0..{num_classes - 1}")
                n_pix = len(pix.split())
                if n_pix != SIDE * SIDE:
                    raise EdgeferError(f"{path} line {line}: expected {SIDE * SIDE} pixel values, got {n_pix}")
                labels.append(int(label))
                pixels.append(pix)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EdgeferError(f"cannot read {path}: {exc}") from None
    if not labels:
        avail = ", ".join(sorted(s for s in seen_splits if s)) or "none"
        what = f"split {split!r}" if split else "rows"
        raise EdgeferError(f"{path}: no {what} found (splits in the file: {avail})")

    def decode(indices: np.ndarray) -> np.ndarray:
        images = []
        for i in indices:
            try:
                a = np.array(pixels[i].split(), dtype=np.int64)
            except ValueError:
                raise EdgeferError(f"{path}: non-numeric pixel value in data row {i + 1} of split {split}") from None
            if a.min() < 0 or a.max() > 255:
                raise EdgeferError(f"{path}: pixel value out of 0..255 in data row {i + 1} of split {split}")
            images.append(a.astype(np.uint8).reshape(SIDE, SIDE))
        return spec.preprocess(images)

    source = f"{path}:{split}" if split else str(path)
    return Dataset(source, "fer2013_csv", np.asarray(labels, np.int64), len(labels), decode)
