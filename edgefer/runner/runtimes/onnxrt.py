"""onnxruntime backend (device side: numpy + onnxruntime only)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError, first_line
from edgefer.runner.runtimes.base import Runtime, TensorInfo, guess_layout

# onnxruntime reports element types as "tensor(float)" etc.
_ORT_DTYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int16)": "int16", "tensor(uint16)": "uint16",
    "tensor(int32)": "int32", "tensor(int64)": "int64", "tensor(bool)": "bool",
}


def _dims(shape: list[Any]) -> list[int | None]:
    # symbolic dims come back as strings ("batch"), unknown ones as None
    return [d if isinstance(d, int) and d >= 0 else None for d in shape]


class OnnxRuntime(Runtime):
    name = "onnxruntime"

    def load(self, path: str, threads: int | None = None, options: dict[str, Any] | None = None) -> None:
        import onnxruntime as ort

        self.path, self.threads, self.options = path, threads, dict(options or {})
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            so.intra_op_num_threads = int(threads)
            so.inter_op_num_threads = 1
        available = ort.get_available_providers()
        providers = self.options.get("providers") or ["CPUExecutionProvider"]
        unknown = [p for p in providers if p not in available]
        if unknown:
            raise EdgeferError(f"onnxruntime provider(s) {unknown} not available here (available: {available})")
        try:
            self._sess = ort.InferenceSession(path, sess_options=so, providers=providers)
        except Exception as exc:  # ORT raises its own InvalidProtobuf/Fail types for bad files
            first = first_line(exc)
            raise EdgeferError(f"cannot load ONNX model {os.path.basename(path)}: corrupt or truncated ({first[:200]})")
        self._in_names = [i.name for i in self._sess.get_inputs()]
        self._out_names = [o.name for o in self._sess.get_outputs()]
        self.inputs = [
            TensorInfo(i.name, _dims(i.shape), _ORT_DTYPES.get(i.type, i.type), guess_layout(_dims(i.shape)))
            for i in self._sess.get_inputs()
        ]
        self.outputs = [
            TensorInfo(o.name, _dims(o.shape), _ORT_DTYPES.get(o.type, o.type)) for o in self._sess.get_outputs()
        ]
        self._ort_version = ort.__version__

    @property
    def session(self) -> Any:
        """The timed InferenceSession (the op profiler copies its options)."""
        return self._sess

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        return self._sess.run(self._out_names, dict(zip(self._in_names, feeds)))

    def version(self) -> str:
        return self._ort_version

    def extra_description(self) -> dict[str, Any]:
        return {"providers": list(self._sess.get_providers())}

    def close(self) -> None:
        self._sess = None
