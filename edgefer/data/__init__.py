"""Face data for calibration and evaluation: FER2013 CSV, image folders, NumPy arrays.

`load_data("fer2013.csv:PublicTest", spec, class_names)` -> a lazily decoded `Dataset`;
`select(ds, n)` picks a class-stratified sample; `ds.take(idx)` gives float32 NCHW inputs
preprocessed by the model's `InputSpec`.
"""

from __future__ import annotations

from pathlib import Path

from edgefer.data.dataset import Dataset, random_inputs, select
from edgefer.data.spec import InputSpec
from edgefer.errors import EdgeferError

__all__ = ["Dataset", "InputSpec", "load_data", "random_inputs", "select"]


def _split_spec(spec_str: str) -> tuple[Path, str | None]:
    """`path.csv:Split` -> (path, split); a plain existing path -> (path, None)."""
    path = Path(spec_str)
    if not path.exists() and ":" in spec_str:
        head, _, split = spec_str.rpartition(":")
        if head and Path(head).suffix.lower() == ".csv":
            return Path(head), split
    return path, None


def load_data(spec_str: str, spec: InputSpec, class_names: list[str], default_split: str | None = None) -> Dataset:
    """Open a data source; `default_split` applies to FER2013 CSVs given without `:Split`."""
    from edgefer.data.fer2013 import load_fer2013_csv
    from edgefer.data.folder import load_image_folder
    from edgefer.data.npy import load_npy

    path, split = _split_spec(spec_str)
    if not path.exists():
        raise EdgeferError(f"data not found: {path}")
    if path.is_dir():
        return load_image_folder(path, spec, class_names)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_fer2013_csv(path, spec, len(class_names), split or default_split)
    if suffix in (".npy", ".npz"):
        return load_npy(path, spec, len(class_names))
    raise EdgeferError(f"unknown data format: {path} (expected a FER2013 .csv, a class folder, .npy or .npz)")
