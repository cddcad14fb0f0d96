"""The data `convert()` calibrates and verifies on: the user's --calib/--eval sets, or random pixels
(flagged loudly in the manifest's warnings)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgefer.convert.options import ConvertOptions
from edgefer.errors import EdgeferError

RANDOM_VERIFY_SAMPLES = 32
RANDOM_CALIB_WARNING = "int8 was calibrated on RANDOM data (no --calib given): its accuracy is unverified"


@dataclass
class ConvertData:
    x_calib: np.ndarray
    calib_rec: dict
    x_ver: np.ndarray  # verification inputs
    y_eval: np.ndarray | None
    ver_rec: dict
    warnings: list[str]


def check_finite(x: np.ndarray, source: str, flag: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        n = int(bad.reshape(len(x), -1).any(axis=1).sum())
        raise EdgeferError(
            f"{flag} {source}: {n} of {len(x)} samples contain NaN or infinite values",
            hint="clean the data: quantization ranges and accuracy computed from them are meaningless",
        )


def read_data(opts: ConvertOptions, ms, int8: bool) -> ConvertData:
    """Calibration and verification inputs; random pixels (flagged loudly) when none given."""
    from edgefer.data import load_data, random_inputs, select

    warnings: list[str] = []
    if opts.calib:
        ds = load_data(opts.calib, ms.spec, ms.class_names, default_split="Training")
        # shuffled: ai-edge-quantizer keeps a moving average of per-sample min/max, so samples
        # grouped by class (as image folders list them) would bias ranges towards the last classes
        idx = np.random.default_rng(opts.seed).permutation(select(ds, opts.calib_samples, opts.seed))
        x_calib, calib_rec = ds.take(idx), ds.describe(idx, ms.class_names)
        check_finite(x_calib, opts.calib, "--calib")
    else:
        x_calib = random_inputs(ms.spec, opts.calib_samples, opts.seed)
        calib_rec = {"source": "random", "samples": opts.calib_samples}
        if int8:
            warnings.append(RANDOM_CALIB_WARNING)
    y_eval = None
    if opts.eval:
        ds = load_data(opts.eval, ms.spec, ms.class_names, default_split="PublicTest")
        idx = select(ds, opts.eval_samples, opts.seed + 1)
        x_ver, y_eval = ds.take(idx), (None if ds.labels is None else ds.labels[idx])
        check_finite(x_ver, opts.eval, "--eval")
        ver_rec = ds.describe(idx, ms.class_names)
        if y_eval is None:
            warnings.append(f"{opts.eval} has no labels: accuracy not measured, only parity/agreement")
    elif opts.calib:
        x_ver, ver_rec = x_calib, {**calib_rec, "note": "calibration samples (no --eval given)"}
        warnings.append("no --eval data: verified on the calibration samples, accuracy not measured")
    else:
        x_ver = random_inputs(ms.spec, RANDOM_VERIFY_SAMPLES, opts.seed + 1)
        ver_rec = {"source": "random", "samples": RANDOM_VERIFY_SAMPLES}
        warnings.append("no data: verified on random inputs only, accuracy not measured")
    if not opts.verify:  # the notes above are about verification, which is not going to run
        warnings = warnings[:1] if warnings and warnings[0] == RANDOM_CALIB_WARNING else []
        warnings.append("verification skipped (--no-verify): the artifacts are unverified")
    return ConvertData(x_calib, calib_rec, x_ver, y_eval, ver_rec, warnings)
