"""Runtimes by name: `open_runtime(path)` picks the backend from the file extension.

Device side. `RUNTIMES` is the registry (edgefer.runner.registry) of the runtimes this process
can open; each backend's module is imported the first time it is used, so a board with only one
runtime installed works. The device registers onnxruntime and LiteRT; the host's PyTorch eager
reference ("torch") is registered only in the host's own runner process
(edgefer.bench.torch_runner), so nothing here names or imports torch.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from edgefer.errors import EdgeferError
from edgefer.runner.registry import Registry
from edgefer.runner.runtimes.base import Runtime, TensorInfo

RUNTIMES = Registry("runtime")
RUNTIMES.register("onnxruntime", "edgefer.runner.runtimes.onnxrt:OnnxRuntime", aliases=("onnx", "ort"))
RUNTIMES.register("litert", "edgefer.runner.runtimes.litert:LiteRTRuntime",
                  aliases=("tflite", "tflite_runtime", "ai_edge_litert"))
RUNTIME_NAMES = RUNTIMES.names()  # the device's runtimes
_BY_EXTENSION = {".onnx": "onnxruntime", ".tflite": "litert"}


def runtime_for(path: str, runtime: str | None = None) -> str:
    """Canonical runtime name for a model file (explicit choice checked against the extension)."""
    ext = os.path.splitext(path)[1].lower()
    if runtime is not None:
        name = RUNTIMES.canonical(runtime)
        if ext in _BY_EXTENSION and _BY_EXTENSION[ext] != name:
            raise EdgeferError(f"runtime '{runtime}' cannot run a {ext} file ({os.path.basename(path)})")
        return name
    if ext not in _BY_EXTENSION:
        raise EdgeferError(f"cannot tell the runtime of '{os.path.basename(path)}': expected a .onnx or .tflite file")
    return _BY_EXTENSION[ext]


def preload_runtime(path: str, runtime: str | None = None) -> None:
    """Import the runtime library a model file needs (nothing happens if it is missing: load says so)."""
    try:
        backend = RUNTIMES.get(runtime_for(os.fspath(path), runtime))
    except EdgeferError:
        return
    for module in backend.libraries:
        try:
            importlib.import_module(module)
            return
        except ImportError:
            continue


def open_runtime(path: str, runtime: str | None = None, threads: int | None = None, **options: Any) -> Runtime:
    """Load a model with its runtime. Missing, empty or corrupt files raise EdgeferError.

    options: providers (onnxruntime: specs, see edgefer.runner.accel), xnnpack (litert), accelerator
    (litert: cpu|gpu|npu[,cpu], selects the CompiledModel API), dispatch_library (litert NPU),
    allow_fallback (run on the CPU when a requested accelerator is missing; recorded), input_shape.
    """
    path = os.fspath(path)
    backend = RUNTIMES.get(runtime_for(path, runtime)).implementation(options)
    if backend.reads_model_file:
        if not os.path.isfile(path):
            raise EdgeferError(f"model file not found: {path}")
        if os.path.getsize(path) == 0:
            raise EdgeferError(f"model file is empty (truncated?): {path}")
    rt: Runtime = backend()
    rt.load(path, threads, options)
    return rt


__all__ = ["Runtime", "TensorInfo", "open_runtime", "preload_runtime", "runtime_for", "RUNTIMES",
           "RUNTIME_NAMES"]
