"""PyTorch eager reference runtime (host only): the same Runtime interface as the device backends.

`edgefer bench NAME --runtime torch` times a zoo model (random init unless a converted
directory's manifest names weights) so the converted artifacts have an eager baseline. It runs in
the same runner process as every benchmark, started as `python -m edgefer.bench.torch_runner`,
which registers this class as the runtime "torch" (the device runner never names torch).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.errors import EdgeferError
from edgefer.runner.runtimes.base import Runtime, TensorInfo


def _model_source(spec: str):
    """A zoo model name, or a converted directory whose manifest says what was converted."""
    from edgefer.convert.manifest import read_manifest
    from edgefer.convert.model_source import resolve_model

    manifest_path = Path(spec) / "manifest.json"
    if not manifest_path.is_file():
        return resolve_model(model=spec)
    manifest = read_manifest(spec)
    src, inp = manifest.get("source") or {}, manifest.get("input") or {}
    weights = (manifest.get("weights") or {}).get("path")
    if weights and not os.path.isfile(weights):
        raise EdgeferError(f"weights named in {manifest_path} not found: {weights}")
    kwargs: dict[str, Any] = {
        "input_size": tuple(inp["input_size"]) if inp.get("input_size") else None,
        "channels": inp.get("channels"),
        "class_names": manifest.get("class_names"),
        "weights": Path(weights) if weights else None,
    }
    if src.get("type") == "module":
        return resolve_model(module=src["module"], module_args=src.get("args") or {}, **kwargs)
    return resolve_model(model=src.get("name") or (manifest.get("model") or {}).get("name"),
                         module_args=src.get("args") or {}, **kwargs)


class TorchRuntime(Runtime):
    name = "torch"
    reads_model_file = False  # the "path" is a zoo model name or a converted directory
    # nothing preloaded: importing torch has always counted in the eager model's load time and memory
    libraries = ()

    def load(self, path: str, threads: int | None = None, options: dict[str, Any] | None = None) -> None:
        import torch

        self.path, self.threads, self.options = path, threads, dict(options or {})
        if threads:
            torch.set_num_threads(int(threads))
        ms = _model_source(path)
        self.model, self.model_name = ms.model.eval(), ms.name
        c, (h, w) = ms.spec.channels, ms.spec.input_size
        self.inputs = [TensorInfo("input", [None, c, h, w], "float32", "NCHW")]
        self.outputs = [TensorInfo("logits", [None, len(ms.class_names)], "float32")]
        self._torch = torch

    def run(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        with self._torch.inference_mode():
            return [self.model(self._torch.from_numpy(feeds[0])).numpy()]

    def version(self) -> str:
        return self._torch.__version__

    def extra_description(self) -> dict[str, Any]:
        return {"threads": self._torch.get_num_threads()}

    def model_info(self) -> dict[str, Any]:
        """Name, params and MACs of the eager model (edgefer.zoo.profile, batch 1)."""
        from edgefer.zoo.profile import profile_model

        shape = tuple(d if d is not None else 1 for d in self.inputs[0].shape)
        p = profile_model(self.model, shape, name=self.model_name)
        return {"name": self.model_name, "params": p.params_total, "macs": p.macs, "flops": p.flops}

