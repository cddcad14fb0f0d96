"""Quieting the converters' libraries: the CLI owns the terminal.

torch.onnx, onnxruntime.quantization, litert-torch and torchao log informational lines (one per
unfolded BatchNorm, per optional CUDA kernel, ...) and warn about their own deprecated APIs.
Errors still get through; the converters' exceptions are turned into one-line EdgeferErrors.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator


@contextlib.contextmanager
def quiet_libraries(*loggers: str, warning_category: type[Warning] | None = Warning) -> Iterator[None]:
    """Raise `loggers` ("" is the root logger) to ERROR and ignore `warning_category` warnings
    (None: leave warnings alone) while the block runs; restore both afterwards."""
    logs = [logging.getLogger(name) for name in loggers]
    levels = [lg.level for lg in logs]
    for lg in logs:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            if warning_category is not None:
                warnings.simplefilter("ignore", warning_category)
            yield
    finally:
        for lg, level in zip(logs, levels):
            lg.setLevel(level)
