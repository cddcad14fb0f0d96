"""The one small interface every inference runtime implements.

Device side: numpy and the standard library only. A runtime subclass fills `self.inputs` /
`self.outputs` in `load()` and implements `run()`; the base class derives random timing inputs
(`make_inputs`) and float32-NCHW-in / float32-logits-out inference (`predict`) from that metadata,
so layout (NCHW/NHWC) and int8 quantization are handled once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError


@dataclass
class TensorInfo:
    """One model input or output as the runtime reports it."""

    name: str
    shape: list[int | None]  # None = dynamic dimension
    dtype: str  # numpy dtype name: "float32", "int8", "uint8", ...
    layout: str | None = None  # "NCHW" | "NHWC" | None (not an image tensor / unknown)
    quantization: dict[str, float] | None = None  # {"scale": s, "zero_point": z} for int8/uint8 I/O

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def guess_layout(shape: list[int | None], default: str = "NCHW") -> str | None:
    """Image layout of a 4-D tensor from where the channel axis (1 or 3 channels) sits."""
    if len(shape) != 4:
        return None
    if shape[1] in (1, 3) and shape[3] not in (1, 3):
        return "NCHW"
    if shape[3] in (1, 3) and shape[1] not in (1, 3):
        return "NHWC"
    return default


def resolve_shape(info: TensorInfo, batch_size: int, input_shape: list[int] | None = None) -> list[int]:
    """Concrete shape for one input: dim 0 is the batch, other dynamic dims need --input-shape."""
    if input_shape is not None:
        if len(input_shape) != len(info.shape) or any(
            d is not None and d != s for d, s in zip(info.shape[1:], input_shape[1:])
        ):
            raise EdgeferError(
                f"wrong input shape {list(input_shape)} for input '{info.name}': the model expects {info.shape}"
            )
        return [batch_size, *input_shape[1:]]
    shape = list(info.shape)
    if shape and shape[0] is None:
        shape[0] = batch_size
    elif shape and shape[0] != batch_size and batch_size != 1:
        raise EdgeferError(
            f"input '{info.name}' has a fixed batch dimension {shape[0]}; --batch-size {batch_size} is not possible"
        )
    if any(d is None for d in shape):
        raise EdgeferError(
            f"input '{info.name}' has dynamic dimensions {info.shape}: pass --input-shape, e.g. 1,1,48,48"
        )
    return [int(d) for d in shape]  # type: ignore[arg-type]


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """float32 -> the integer dtype of `info` with its scale/zero point (round half to even, clip)."""
    q = info.quantization or {}
    scale, zp = float(q.get("scale") or 1.0), int(q.get("zero_point") or 0)
    lim = np.iinfo(np.dtype(info.dtype))
    return np.clip(np.rint(x / scale) + zp, lim.min, lim.max).astype(info.dtype)


def dequantize(y: np.ndarray, info: TensorInfo) -> np.ndarray:
    q = info.quantization or {}
    scale, zp = float(q.get("scale") or 1.0), int(q.get("zero_point") or 0)
    return ((y.astype(np.float32) - zp) * scale).astype(np.float32)


class Runtime(ABC):
    """Load a model file, run it on prepared feeds (the timed call), describe it."""

    name: str = "runtime"
    # the libraries load() imports: preload_runtime imports them first, so their memory is not the model's
    libraries: tuple[str, ...] = ()
    reads_model_file = True  # open_runtime checks the file exists and is not empty before load()

    @classmethod
    def implementation(cls, options: dict[str, Any]) -> type[Runtime]:
        """The class that loads a model with these open_runtime options: this one, unless an
        option selects another API of the same runtime (LiteRT's accelerator -> CompiledModel)."""
        return cls

    def __init__(self) -> None:
        self.path: str = ""
        self.threads: int | None = None
        self.options: dict[str, Any] = {}
        self.inputs: list[TensorInfo] = []
        self.outputs: list[TensorInfo] = []

    # -- what a subclass implements -------------------------------------------------------
    @abstractmethod
    def load(self, path: str, threads: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Load the model; fill self.inputs / self.outputs. Corrupt file -> EdgeferError."""

    @abstractmethod
    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        """One inference on ready-made feeds (one per input, in order). This is what is timed."""

    @abstractmethod
    def version(self) -> str:
        """Version of the runtime library."""

    def extra_description(self) -> dict[str, Any]:
        """Runtime-specific fields for describe(): providers, delegates."""
        return {}

    # -- derived from the metadata ----------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version(),
            "threads": self.threads,
            "providers": None,
            "delegates": None,
            **self.extra_description(),
            "inputs": [i.to_dict() for i in self.inputs],
            "outputs": [o.to_dict() for o in self.outputs],
        }

    def input_shapes(self, batch_size: int = 1) -> list[list[int]]:
        override = self.options.get("input_shape")
        return [
            resolve_shape(info, batch_size, override if k == 0 else None) for k, info in enumerate(self.inputs)
        ]

    def make_inputs(self, batch_size: int = 1, seed: int = 0) -> list[np.ndarray]:
        """Random inputs of the model's shape and dtype (for timing; values do not matter)."""
        rng = np.random.default_rng(seed)
        feeds = []
        for info, shape in zip(self.inputs, self.input_shapes(batch_size)):
            dt = np.dtype(info.dtype)
            if dt.kind == "f":
                feeds.append(rng.standard_normal(shape).astype(dt))
            elif dt.kind in "iu":
                lim = np.iinfo(dt)
                lo, hi = max(int(lim.min), -128), min(int(lim.max), 255)
                feeds.append(rng.integers(lo, hi, size=shape, endpoint=True).astype(dt))
            elif dt.kind == "b":
                feeds.append(rng.integers(0, 1, size=shape, endpoint=True).astype(dt))
            else:
                raise EdgeferError(f"input '{info.name}' has dtype {info.dtype}, which edgefer cannot generate")
        return feeds

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 NCHW batch -> float32 logits of the first output (layout and int8 I/O handled)."""
        if len(self.inputs) != 1:
            raise EdgeferError(f"predict() needs a single-input model; {self.path} has {len(self.inputs)} inputs")
        info = self.inputs[0]
        x = np.asarray(x, dtype=np.float32)
        expected = list(info.shape)
        if info.layout == "NHWC" and len(expected) == 4:  # x arrives NCHW whatever the model wants
            expected = [expected[0], expected[3], expected[1], expected[2]]
        if x.ndim != len(expected) or any(d is not None and d != s for d, s in zip(expected[1:], x.shape[1:])):
            raise EdgeferError(f"wrong input shape {list(x.shape)} for {self.path}: expected NCHW {expected}")
        if info.layout == "NHWC" and x.ndim == 4:
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        feed = quantize(x, info) if np.dtype(info.dtype).kind in "iu" else x.astype(info.dtype, copy=False)
        fixed_batch = info.shape[0]
        if fixed_batch is not None and fixed_batch != feed.shape[0]:
            if feed.shape[0] % fixed_batch:
                raise EdgeferError(
                    f"batch of {feed.shape[0]} does not split into the model's fixed batch {fixed_batch}"
                )
            chunks = [feed[i : i + fixed_batch] for i in range(0, feed.shape[0], fixed_batch)]
            y = np.concatenate([self.run([c])[0] for c in chunks], axis=0)
        else:
            y = self.run([feed])[0]
        out = self.outputs[0] if self.outputs else None
        if out is not None and np.dtype(out.dtype).kind in "iu" and out.quantization:
            return dequantize(y, out)
        return np.asarray(y, dtype=np.float32)

    def accelerators(self, count_nodes: bool = True) -> dict[str, Any] | None:
        """The report's `accelerators` section (edgefer.runner.accel.accelerator_report): what was
        requested, what ran, fallbacks, node counts. None for runtimes without accelerators."""
        return None

    def profile_ops(self, feeds: list[np.ndarray], runs: int, warmup: int) -> dict[str, Any]:
        """The report's `op_profile` section from `runs` profiled runs after the timed ones
        (called through edgefer.runner.opprofile.profile_ops, which keeps a failure here from
        costing the benchmark). Runtimes with a profiler override this."""
        from edgefer.runner.opprofile import unavailable

        return unavailable(self.name, f"runtime '{self.name}' has no op profiler in edgefer "
                                      "(onnxruntime and LiteRT have)")

    def close(self) -> None:
        """Release the model (optional)."""
