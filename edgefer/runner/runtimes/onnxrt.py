"""onnxruntime backend (device side: numpy + onnxruntime only)."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError, first_line
from edgefer.runner.accel import (
    CPU_PROVIDER,
    accelerator_report,
    choose_providers,
    parse_providers,
    session_fallbacks,
)
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
    libraries = ("onnxruntime",)

    def load(self, path: str, threads: int | None = None, options: dict[str, Any] | None = None) -> None:
        import onnxruntime as ort

        self.path, self.threads, self.options = path, threads, dict(options or {})
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            so.intra_op_num_threads = int(threads)
            so.inter_op_num_threads = 1
        self._so = so
        self._open_session(ort, path, so)
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

    def _open_session(self, ort: Any, path: str, so: Any) -> None:
        """Create the session with the requested providers (checked against this build first)."""
        requested = parse_providers(self.options.get("providers")) or [(CPU_PROVIDER, {})]
        self._allow_fallback = bool(self.options.get("allow_fallback"))
        self._requested = [n for n, _ in requested]
        self._provider_options = {n: o for n, o in requested if o}
        chosen, self._fallbacks = choose_providers(requested, ort.get_available_providers(), self._allow_fallback)
        self._chosen = chosen
        try:
            self._sess = ort.InferenceSession(path, sess_options=so, providers=[n for n, _ in chosen],
                                              provider_options=[o for _, o in chosen])
        except Exception as exc:  # ORT raises its own InvalidProtobuf/Fail types for bad files
            first = first_line(exc)
            if "NOT_IMPLEMENTED" in first or "Could not find an implementation" in first:
                # e.g. an fp16 model on a build/provider without fp16 kernels for one of its ops
                raise EdgeferError(f"onnxruntime {ort.__version__} with {', '.join(n for n, _ in chosen)} cannot run "
                                   f"{os.path.basename(path)}: {first[:240]}") from None
            raise EdgeferError(f"cannot load ONNX model {os.path.basename(path)}: corrupt or truncated ({first[:200]})")
        self._fallbacks += session_fallbacks([n for n, _ in chosen], self._sess.get_providers(), self._allow_fallback)

    def accelerators(self, count_nodes: bool = True) -> dict[str, Any]:
        counts, source = (self._node_counts() if count_nodes else (None, "not counted (run interrupted)"))
        used = list(self._sess.get_providers())
        return accelerator_report(
            "onnxruntime", "InferenceSession", self._requested, used, self._allow_fallback, self._fallbacks,
            self._provider_options, counts, source,
            fully_accelerated=None if counts is None else set(counts) <= {used[0]},
        )

    def _node_counts(self) -> tuple[dict[str, int] | None, str]:
        """Nodes per provider as onnxruntime ran them: a second session with profiling on, one
        inference, the profile's node events counted (after timing, so nothing measured changes).
        A subgraph a provider fuses (TensorRT, QNN) counts as one node."""
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = self._so.graph_optimization_level
        so.intra_op_num_threads = self._so.intra_op_num_threads
        with tempfile.TemporaryDirectory(prefix="edgefer-ort-profile-") as tmp:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tmp, "profile")
            try:
                sess = ort.InferenceSession(self.path, sess_options=so, providers=[n for n, _ in self._chosen],
                                            provider_options=[o for _, o in self._chosen])
                sess.run(None, dict(zip(self._in_names, self.make_inputs(1))))
                with open(sess.end_profiling()) as f:
                    events = json.load(f)
            except Exception as exc:  # counting is a report detail; the benchmark itself already ran
                return None, f"unavailable: {first_line(exc)[:160]}"
        nodes: dict[str, str] = {}
        for e in events:
            args = e.get("args") or {}
            if e.get("cat") == "Node" and args.get("provider"):
                nodes[e["name"].removesuffix("_kernel_time")] = args["provider"]
        counts: dict[str, int] = {}
        for provider in nodes.values():
            counts[provider] = counts.get(provider, 0) + 1
        return counts, "onnxruntime profiling of one inference (fused subgraphs count as one node)"

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        return self._sess.run(self._out_names, dict(zip(self._in_names, feeds)))

    def version(self) -> str:
        return self._ort_version

    def extra_description(self) -> dict[str, Any]:
        return {"providers": list(self._sess.get_providers())}

    def profile_ops(self, feeds: list[np.ndarray], runs: int, warmup: int) -> dict[str, Any]:
        """Per-node times from onnxruntime's session profiler, in a second session (opprofile.onnxrt)."""
        from edgefer.runner.opprofile.onnxrt import profile_onnxruntime

        return profile_onnxruntime(self, feeds, runs, warmup)

    def close(self) -> None:
        self._sess = None
