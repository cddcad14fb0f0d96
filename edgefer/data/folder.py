"""Image folder: one sub-folder per class (`happy/001.png`, ...), read with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgefer.data.dataset import Dataset
from edgefer.errors import EdgeferError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _class_index(folder: str, class_names: list[str]) -> int | None:
    lower = [c.lower() for c in class_names]
    if folder.lower() in lower:
        return lower.index(folder.lower())
    if folder.isdigit() and int(folder) < len(class_names):
        return int(folder)
    return None


def load_image_folder(root: Path, spec, class_names: list[str]) -> Dataset:
    """Sub-folder names are the model's class names (case-insensitive) or class indices."""
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise EdgeferError(f"{root}: no class sub-folders (expected e.g. {root}/happy/*.png)")
    files: list[Path] = []
    labels: list[int] = []
    for d in subdirs:
        idx = _class_index(d.name, class_names)
        if idx is None:
            raise EdgeferError(
                f"{root}: sub-folder {d.name!r} is not a class of the model ({', '.join(class_names)})"
            )
        imgs = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        files += imgs
        labels += [idx] * len(imgs)
    if not files:
        raise EdgeferError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in the class sub-folders")

    def decode(indices: np.ndarray) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        images = []
        for i in indices:
            try:
                with Image.open(files[i]) as im:
                    im.load()
                    images.append(im.copy())
            except (OSError, UnidentifiedImageError) as exc:
                raise EdgeferError(f"unreadable image {files[i]}: {exc}") from None
        return spec.preprocess(images)

    return Dataset(str(root), "image_folder", np.asarray(labels, np.int64), len(files), decode)
