"""Runtime registry: `open_runtime(path)` picks the backend from the file extension.

Device side. Backends are imported lazily so a board with only one runtime installed works.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from edgefer.errors import EdgeferError
from edgefer.runner.runtimes.base import Runtime, TensorInfo

# canonical name -> (module, class)
_BACKENDS = {
    "onnxruntime": ("edgefer.runner.runtimes.onnxrt", "OnnxRuntime"),
    "litert": ("edgefer.runner.runtimes.litert", "LiteRTRuntime"),
}
_ALIASES = {"onnxruntime": "onnxruntime", "onnx": "onnxruntime", "ort": "onnxruntime",
            "litert": "litert", "tflite": "litert", "tflite_runtime": "litert", "ai_edge_litert": "litert"}
_BY_EXTENSION = {".onnx": "onnxruntime", ".tflite": "litert"}
RUNTIME_NAMES = tuple(_BACKENDS)


def runtime_for(path: str, runtime: str | None = None) -> str:
    """Canonical runtime name for a model file (explicit choice checked against the extension)."""
    ext = os.path.splitext(path)[1].lower()
    if runtime is not None:
        name = _ALIASES.get(runtime.lower())
        if name is None:
            raise EdgeferError(f"unknown runtime '{runtime}' (choose from: {', '.join(RUNTIME_NAMES)})")
        if ext in _BY_EXTENSION and _BY_EXTENSION[ext] != name:
            raise EdgeferError(f"runtime '{runtime}' cannot run a {ext} file ({os.path.basename(path)})")
        return name
    if ext not in _BY_EXTENSION:
        raise EdgeferError(f"cannot tell the runtime of '{os.path.basename(path)}': expected a .onnx or .tflite file")
    return _BY_EXTENSION[ext]


# the libraries each backend imports in load(), so their import is not counted as the model's memory
_LIBRARIES = {"onnxruntime": ("onnxruntime",), "litert": ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")}


def preload_runtime(path: str, runtime: str | None = None) -> None:
    """Import the runtime library a model file needs (nothing happens if it is missing: load says so)."""
    try:
        name = runtime_for(os.fspath(path), runtime)
    except EdgeferError:
        return
    for module in _LIBRARIES.get(name, ()):
        try:
            importlib.import_module(module)
            return
        except ImportError:
            continue


def open_runtime(path: str, runtime: str | None = None, threads: int | None = None, **options: Any) -> Runtime:
    """Load a model file with its runtime. Missing, empty or corrupt files raise EdgeferError.

    options: providers (onnxruntime: specs, see edgefer.runner.accel), xnnpack (litert), accelerator
    (litert: cpu|gpu|npu[,cpu], selects the CompiledModel API), dispatch_library (litert NPU),
    allow_fallback (run on the CPU when a requested accelerator is missing; recorded), input_shape.
    """
    path = os.fspath(path)
    name = runtime_for(path, runtime)
    if not os.path.isfile(path):
        raise EdgeferError(f"model file not found: {path}")
    if os.path.getsize(path) == 0:
        raise EdgeferError(f"model file is empty (truncated?): {path}")
    module, cls = _BACKENDS[name]
    if name == "litert" and options.get("accelerator"):  # LiteRT's CompiledModel API, not the Interpreter
        module, cls = "edgefer.runner.runtimes.litert_compiled", "LiteRTCompiledRuntime"
    try:
        backend = getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise EdgeferError(f"runtime '{name}' is not installed here ({exc})")
    rt: Runtime = backend()
    rt.load(path, threads, options)
    return rt


__all__ = ["Runtime", "TensorInfo", "open_runtime", "preload_runtime", "runtime_for", "RUNTIME_NAMES"]
