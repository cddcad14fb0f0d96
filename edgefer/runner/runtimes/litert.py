"""LiteRT (TensorFlow Lite) backend (device side: numpy + ai_edge_litert or tflite_runtime only).

`ai_edge_litert` is the maintained package; `tflite_runtime` is the older one still shipped for
some boards (and the only one for old Pythons), with the same Interpreter API.
Layout, int8 quantization of inputs and dequantization of outputs live in base.Runtime.predict();
here we only describe the tensors (dtype, scale/zero point, layout) and run the interpreter.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError, first_line
from edgefer.runner.accel import accelerator_report
from edgefer.runner.runtimes.base import Runtime, TensorInfo
from edgefer.runner.runtimes.tflite_tensors import tflite_layout, tflite_quantization


def _import_interpreter() -> tuple[Any, str, str]:
    """(interpreter module, package name, package version) of the first LiteRT package found."""
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter

        return interpreter, "ai_edge_litert", getattr(ai_edge_litert, "__version__", "unknown")
    except ImportError:
        pass
    try:
        import tflite_runtime
        from tflite_runtime import interpreter

        return interpreter, "tflite_runtime", getattr(tflite_runtime, "__version__", "unknown")
    except ImportError:
        raise EdgeferError(
            "no LiteRT runtime installed here", hint='pip install ai-edge-litert (or tflite-runtime on old boards)'
        ) from None


def _check_numpy_abi(package: str, version: str) -> None:
    """tflite_runtime (last release 2.14, 2023) is built against numpy 1.x but does not say so in
    its requirements, so pip pairs it with numpy 2; it then imports and fails on the first model
    with a SystemError. Say what to install instead."""
    if package != "tflite_runtime" or int(np.__version__.split(".")[0]) < 2:
        return
    try:
        major_minor = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:  # "unknown": an old build
        major_minor = (0, 0)
    if major_minor <= (2, 14):  # every tflite_runtime release so far
        raise EdgeferError(
            f"tflite_runtime {version} was built for numpy 1.x and cannot run under numpy {np.__version__}",
            hint="on the device: python3 -m pip install 'numpy<2' (or install ai-edge-litert, which supports numpy 2)",
        )


def _tensor_info(detail: dict[str, Any], with_layout: bool) -> TensorInfo:
    # shape_signature has -1 for dynamic dims; shape has the currently allocated size
    sig = detail.get("shape_signature")
    dims = [int(d) for d in (sig if sig is not None and len(sig) else detail["shape"])]
    shape: list[int | None] = [d if d >= 0 else None for d in dims]
    return TensorInfo(
        name=detail["name"],
        shape=shape,
        dtype=np.dtype(detail["dtype"]).name,
        layout=tflite_layout(detail["name"], shape) if with_layout else None,
        quantization=tflite_quantization(detail),
    )


class LiteRTRuntime(Runtime):
    name = "litert"
    libraries = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")

    @classmethod
    def implementation(cls, options: dict[str, Any]) -> type[Runtime]:
        """The Interpreter, or LiteRT's CompiledModel API when an accelerator is asked for."""
        if options.get("accelerator"):
            from edgefer.runner.runtimes.litert_compiled import LiteRTCompiledRuntime

            return LiteRTCompiledRuntime
        return cls

    def load(self, path: str, threads: int | None = None, options: dict[str, Any] | None = None) -> None:
        interpreter_mod, package, self._version = _import_interpreter()
        # the report names the package that ran the model: "litert" or "tflite_runtime"
        self.name = "litert" if package == "ai_edge_litert" else "tflite_runtime"
        self.path, self.threads, self.options = path, threads, dict(options or {})
        self._xnnpack = bool(self.options.get("xnnpack", True))
        kwargs: dict[str, Any] = {"model_path": path, "num_threads": int(threads) if threads else None}
        if not self._xnnpack:
            # the only documented switch for the default (XNNPACK) delegate in the Python API
            resolver = getattr(interpreter_mod, "OpResolverType", None)
            if resolver is None:
                raise EdgeferError(f"{package} {self._version} cannot disable XNNPACK (no OpResolverType)")
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        _check_numpy_abi(package, self._version)
        try:
            self._interp = interpreter_mod.Interpreter(**kwargs)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = first_line(exc)
            raise EdgeferError(
                f"cannot load TFLite model {os.path.basename(path)}: corrupt, truncated or unsupported ({first[:200]})"
            ) from None
        self._in_idx = [d["index"] for d in self._interp.get_input_details()]
        self._out_idx = [d["index"] for d in self._interp.get_output_details()]
        self.inputs = [_tensor_info(d, True) for d in self._interp.get_input_details()]
        self.outputs = [_tensor_info(d, False) for d in self._interp.get_output_details()]
        self._delegate_nodes = self._count_delegate_nodes()

    def _count_delegate_nodes(self) -> int:
        # A delegate replaces the ops it takes with "DELEGATE" nodes in the execution plan; with
        # XNNPACK requested, zero such nodes means nothing was delegated (e.g. unsupported ops).
        try:
            return sum(1 for op in self._interp._get_ops_details() if op.get("op_name") == "DELEGATE")
        except AttributeError:  # private API missing in some tflite_runtime builds
            return -1

    @property
    def interpreter(self) -> Any:
        """The loaded Interpreter (the op profiler reads its execution plan)."""
        return self._interp

    @property
    def xnnpack(self) -> bool:
        return self._xnnpack

    @property
    def delegate_nodes(self) -> int:
        """DELEGATE nodes in the execution plan (XNNPACK partitions); -1 when unknown."""
        return self._delegate_nodes

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        for idx, feed in zip(self._in_idx, feeds):
            self._interp.set_tensor(idx, feed)
        self._interp.invoke()
        return [self._interp.get_tensor(idx) for idx in self._out_idx]

    def version(self) -> str:
        return self._version

    def extra_description(self) -> dict[str, Any]:
        # -1 = could not count: XNNPACK was requested and is the default, so report it
        return {"delegates": ["XNNPACK"] if self._xnnpack and self._delegate_nodes != 0 else []}

    def accelerators(self, count_nodes: bool = True) -> dict[str, Any]:
        # the interpreter's only accelerator here is its default XNNPACK delegate; the plan after
        # delegation lists one DELEGATE node per XNNPACK partition plus the ops left to builtins
        used = ["XNNPACK", "CPU builtin kernels"] if self._xnnpack and self._delegate_nodes != 0 else ["CPU builtin kernels"]
        counts = None
        if self._delegate_nodes >= 0:
            total = len(self._interp._get_ops_details())
            counts = {"XNNPACK": self._delegate_nodes, "CPU builtin kernels": total - self._delegate_nodes}
        return accelerator_report(
            self.name, "Interpreter", ["xnnpack"] if self._xnnpack else ["cpu"], used, False, [],
            node_counts=counts, node_counts_source=None if counts is None else
            "interpreter execution plan (an XNNPACK partition counts as one DELEGATE node)",
            fully_accelerated=None if counts is None else counts["CPU builtin kernels"] == 0,
        )

    def profile_ops(self, feeds: list[np.ndarray], runs: int, warmup: int) -> dict[str, Any]:
        """Which ops XNNPACK took (delegate partitions); the Interpreter has no per-op timer."""
        from edgefer.runner.opprofile.litert import profile_litert

        return profile_litert(self)

    def close(self) -> None:
        self._interp = None
