"""What `convert()` is asked to do: ConvertOptions, and the checks on them that run before any slow step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

from edgefer.convert.verify import DEFAULT_PARITY_TOL
from edgefer.errors import EdgeferError

FORMATS = ("onnx", "tflite")
PRECISIONS = ("fp32", "int8", "fp16")

# step(description) is a context manager wrapped around each slow step (the CLI's progress display)
Step = Callable[[str], ContextManager]


@dataclass
class ConvertOptions:
    model: str | None = None  # zoo name
    module: str | None = None  # "pkg.file:factory" or "file.py:factory"
    module_args: dict = field(default_factory=dict)
    weights: Path | None = None
    input_size: tuple[int, int] | None = None
    channels: int | None = None
    class_names: list[str] | None = None
    color: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    out: Path = Path("edgefer-out")
    formats: tuple[str, ...] = FORMATS
    precisions: tuple[str, ...] = ("fp32", "int8")  # fp16 on request (--precision fp16)
    target: str | None = None
    calib: str | None = None
    calib_samples: int = 256
    eval: str | None = None
    eval_samples: int | None = 1000
    opset: int = 18
    dynamic_batch: bool = False
    activation_type: str | None = None  # None: from the target profile / host
    calibration: str = "minmax"
    tflite_io: str = "int8"
    verify: bool = True
    parity_tol: float = DEFAULT_PARITY_TOL
    fp16_parity_tol: float | None = None  # None: edgefer.convert.fp16.FP16_PARITY_TOL
    max_accuracy_drop: float | None = None
    min_class_recall_ratio: float | None = None
    seed: int = 0


def check_choices(values: tuple[str, ...], allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """The values asked for, lower-cased and without repeats; one line naming the flag otherwise."""
    vals = tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    bad = [v for v in vals if v not in allowed]
    if bad or not vals:
        raise EdgeferError(f"{flag} accepts {','.join(allowed)}; got {','.join(values) or 'nothing'}")
    return vals


def check_options(opts: "ConvertOptions") -> None:
    """Every value by type and range before the slow steps; one line naming the option."""

    def num(flag: str, v, lo: float, hi: float) -> None:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or not lo <= v <= hi):
            raise EdgeferError(f"{flag} must be between {lo:g} and {hi:g}, got {v!r}")

    num("--calib-samples", opts.calib_samples, 1, 1_000_000)
    num("--eval-samples", opts.eval_samples, 1, 10_000_000)
    num("--opset", opts.opset, 18, 23)
    num("--parity-tol", opts.parity_tol, 1e-9, 1.0)
    fp16_tol = getattr(opts, "fp16_parity_tol", None)
    if fp16_tol is not None and (isinstance(fp16_tol, bool) or not isinstance(fp16_tol, (int, float))
                                 or not math.isfinite(fp16_tol) or not fp16_tol > 0):
        raise EdgeferError(f"--fp16-parity-tol must be > 0, got {fp16_tol}")
    num("--max-accuracy-drop", opts.max_accuracy_drop, 0, 100)
    num("--min-class-recall-ratio", opts.min_class_recall_ratio, 0, 1)
    for flag, vals in (("--mean", opts.mean), ("--std", opts.std)):
        if vals is not None and any(not math.isfinite(v) for v in vals):
            raise EdgeferError(f"{flag} values must be finite numbers, got {list(vals)}")
    if opts.std is not None and any(v <= 0 for v in opts.std):
        raise EdgeferError(f"--std values must be > 0, got {list(opts.std)}")
    gates = [f for f, v in (("--max-accuracy-drop", opts.max_accuracy_drop),
                            ("--min-class-recall-ratio", opts.min_class_recall_ratio)) if v is not None]
    if gates and not opts.eval:
        raise EdgeferError(f"{' and '.join(gates)} need labelled --eval data: without it the gate cannot be "
                           f"evaluated and would pass untested")
    if gates and not opts.verify:
        raise EdgeferError(f"{' and '.join(gates)} cannot be checked with --no-verify")
