"""Which accelerators a bench job asks for: the target profile's choice, overridden on the
command line (host side; the device re-checks what only it can, e.g. a writable TensorRT cache).

Also the precision rule: an artifact whose precision the requested accelerator lacks (fp16 on an
int8-only NPU, int8 on Jetson Nano's Maxwell GPU through TensorRT, fp16 on the host-only torch
reference) is a one-line error before anything is deployed, unless a CPU fallback is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgefer.errors import EdgeferError


@dataclass
class AccelRequest:
    """Command-line overrides; None = the target profile's setting."""

    providers: str | None = None  # onnxruntime specs, NAME[:k=v;k=v],... (edgefer.runner.accel)
    accelerator: str | None = None  # LiteRT CompiledModel: cpu|gpu|npu[,cpu]; "interpreter" = the Interpreter
    dispatch_library: str | None = None
    allow_fallback: bool | None = None


def _route_precisions(tgt: Any, route: str) -> tuple[str, list[str]] | None:
    for a in tgt.accelerators:
        if route in a.reached_by and a.precisions:
            return a.name, list(a.precisions)
    return None


def _check_precision(tgt: Any, route: str, precision: str | None, allow_fallback: bool, path: str) -> None:
    found = _route_precisions(tgt, route)
    if precision is None or found is None or allow_fallback:
        return
    name, precisions = found
    if precision not in precisions:
        raise EdgeferError(
            f"{path}: a {precision} artifact cannot run on {name} via {route} (it runs {', '.join(precisions)}); "
            f"benchmark the {'fp16' if 'fp16' in precisions else precisions[0]} artifact, choose other "
            "--providers/--accelerator, or pass --allow-fallback"
        )


def job_accel(tgt: Any, req: AccelRequest, path: str, precision: str | None,
              runtime: str | None) -> tuple[list[str] | None, dict[str, Any] | None]:
    """(onnxruntime provider specs | None, runner accel options | None) for one job."""
    from edgefer.runner.accel import parse_litert_accelerators, parse_provider

    if runtime == "torch":
        if precision not in (None, "fp32"):
            raise EdgeferError(f"--runtime torch runs the fp32 source model; {precision} is for onnx/tflite artifacts")
        if req.providers or req.accelerator:
            raise EdgeferError("--providers/--accelerator do not apply to --runtime torch (the host's eager model)")
        return None, None
    is_tflite = path.endswith(".tflite")
    if is_tflite:
        if req.providers:
            raise EdgeferError("--providers are onnxruntime's; for .tflite use --accelerator cpu|gpu|npu")
        prefs = tgt.runtimes.tflite
        allow = prefs.allow_fallback if req.allow_fallback is None else req.allow_fallback
        if req.accelerator == "interpreter":
            wanted = []
        else:
            wanted = parse_litert_accelerators(req.accelerator) if req.accelerator else list(prefs.accelerator or [])
        if wanted:
            _check_precision(tgt, f"litert:{wanted[0]}", precision, allow, path)
        dispatch = req.dispatch_library or prefs.dispatch_library
        if dispatch and "npu" not in wanted:
            raise EdgeferError("--dispatch-library is for the LiteRT NPU accelerator (--accelerator npu[,cpu])")
        accel = {"accelerator": ",".join(wanted), "allow_fallback": allow} if wanted else {"allow_fallback": allow}
        if dispatch:
            accel["dispatch_library"] = dispatch
        return None, accel
    if req.accelerator or req.dispatch_library:
        raise EdgeferError("--accelerator/--dispatch-library are LiteRT's; for .onnx use --providers")
    prefs = tgt.runtimes.onnxruntime
    allow = prefs.allow_fallback if req.allow_fallback is None else req.allow_fallback
    specs = [s for s in req.providers.split(",") if s.strip()] if req.providers else prefs.provider_specs()
    names = [parse_provider(s)[0] for s in specs]  # names and syntax here; option values on the device
    if len(set(names)) != len(names):
        raise EdgeferError(f"--providers lists a provider twice: {', '.join(names)}")
    if names:
        _check_precision(tgt, names[0], precision, allow, path)
    return specs, {"allow_fallback": allow}
