"""Accelerator requests: onnxruntime execution providers (with options) and LiteRT hardware
accelerators, checked before a model loads, and the report section saying what actually ran.

Device side: standard library only (the runtimes import onnxruntime / ai_edge_litert themselves).

Provider spec (command line, runner wire format): `NAME[:key=value;key=value]`, several joined
by commas, e.g. `tensorrt:trt_fp16_enable=True;trt_engine_cache_enable=True;trt_engine_cache_path=/tmp/trt,cuda,cpu`.
NAME is onnxruntime's provider name or a short alias (cpu, cuda, tensorrt/trt, qnn, xnnpack, ...).
A profile may give the same as a mapping {name: ..., options: {...}}.

A requested provider/accelerator that this machine lacks is a one-line error naming what it has,
unless the caller allows a CPU fallback; a fallback, when taken, is always in the report.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from edgefer.errors import EdgeferError

# short alias -> onnxruntime's name; the canonical names are accepted as they are
ORT_PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
    "nnapi": "NnapiExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "dml": "DmlExecutionProvider",
    "acl": "ACLExecutionProvider",
    "armnn": "ArmNNExecutionProvider",
    "webgpu": "WebGpuExecutionProvider",
    "azure": "AzureExecutionProvider",
}
# every provider name onnxruntime builds know (onnxruntime.get_all_providers() of 1.2x/1.3x)
KNOWN_ORT_PROVIDERS = tuple(dict.fromkeys(ORT_PROVIDER_ALIASES.values())) + (
    "VitisAIExecutionProvider", "RknpuExecutionProvider", "CANNExecutionProvider", "JsExecutionProvider",
    "SNPEExecutionProvider", "TvmExecutionProvider", "NvTensorRTRTXExecutionProvider",
)
CPU_PROVIDER = "CPUExecutionProvider"
# TensorRT precision switches whose values must be booleans
_TRT_BOOL_OPTIONS = ("trt_fp16_enable", "trt_int8_enable", "trt_engine_cache_enable", "trt_timing_cache_enable")

# LiteRT CompiledModel accelerators (ai_edge_litert.hardware_accelerator.HardwareAccelerator)
LITERT_ACCELERATORS = ("cpu", "gpu", "npu")


def canonical_provider(name: str) -> str:
    """onnxruntime's name for a provider name or alias; unknown names are a one-line error."""
    canonical = ORT_PROVIDER_ALIASES.get(name.strip().lower(), name.strip())
    if canonical not in KNOWN_ORT_PROVIDERS:
        raise EdgeferError(
            f"unknown onnxruntime provider '{name}' (known: {', '.join(sorted(ORT_PROVIDER_ALIASES))} "
            f"or onnxruntime's names, e.g. CUDAExecutionProvider)"
        )
    return canonical


def parse_provider(spec: Any) -> tuple[str, dict[str, str]]:
    """One spec -> (onnxruntime's name, options): syntax and name only, no option-value checks
    (the host uses it for remote targets, whose paths only the device can check)."""
    if isinstance(spec, dict):
        name, raw = spec.get("name"), spec.get("options") or {}
        if not isinstance(name, str) or not isinstance(raw, dict):
            raise EdgeferError(f"invalid provider entry {spec!r}: expected {{name: ..., options: {{...}}}}")
        options = {str(k): _option_text(v) for k, v in raw.items()}
    else:
        name, _, opt_text = str(spec).strip().partition(":")
        options = {}
        for item in filter(None, (s.strip() for s in opt_text.split(";"))):
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise EdgeferError(f"provider option '{item}' of '{name}' is not key=value")
            options[key.strip()] = value.strip()
    return canonical_provider(name), options


def _option_text(value: Any) -> str:
    # onnxruntime takes provider option values as strings; YAML booleans become "True"/"False"
    return str(value)


def parse_providers(specs: list[Any] | str | None) -> list[tuple[str, dict[str, str]]]:
    """Provider specs (strings or mappings; one comma-separated string) -> [(name, options)]."""
    if specs is None:
        return []
    if isinstance(specs, str):
        specs = [s for s in specs.split(",") if s.strip()]
    out: list[tuple[str, dict[str, str]]] = []
    for spec in specs:
        name, options = parse_provider(spec)
        if any(n == name for n, _ in out):
            raise EdgeferError(f"provider {name} is listed twice")
        check_provider_options(name, options)
        out.append((name, options))
    return out


def provider_spec_text(name: str, options: dict[str, Any]) -> str:
    """The inverse of parse_providers for one entry (what bench passes to a remote runner)."""
    if not options:
        return name
    return name + ":" + ";".join(f"{k}={_option_text(v)}" for k, v in options.items())


def _writable_dir(path: str) -> str | None:
    """None if `path` is (or can be made) a writable directory; else the reason."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".edgefer-write-test-"):
            pass
        return None
    except OSError as exc:
        return exc.strerror or str(exc)


def check_provider_options(name: str, options: dict[str, str]) -> None:
    """Bad option values that would otherwise fail deep inside a session (or not at all)."""
    if name == "TensorrtExecutionProvider":
        for key in _TRT_BOOL_OPTIONS:
            if key in options and options[key].lower() not in ("true", "false", "1", "0"):
                raise EdgeferError(f"TensorRT option {key} must be True or False, got '{options[key]}'")
        for key in ("trt_engine_cache_path", "trt_timing_cache_path"):
            if key in options:
                why = _writable_dir(os.path.expanduser(options[key]))
                if why:
                    raise EdgeferError(f"TensorRT {key} {options[key]} is not a writable directory: {why}")
    if name == "QNNExecutionProvider":
        backend = options.get("backend_path")
        if backend and os.sep in backend and not os.path.isfile(os.path.expanduser(backend)):
            raise EdgeferError(f"QNN backend_path {backend} does not exist (e.g. libQnnHtp.so from the QNN SDK)")
    if name == "CUDAExecutionProvider" and "device_id" in options and not options["device_id"].isdigit():
        raise EdgeferError(f"CUDA option device_id must be a GPU number, got '{options['device_id']}'")


def choose_providers(requested: list[tuple[str, dict[str, str]]], available: list[str],
                     allow_fallback: bool) -> tuple[list[tuple[str, dict[str, str]]], list[dict[str, str]]]:
    """(providers to create the session with, fallbacks taken) for the providers this build has."""
    if not requested:
        requested = [(CPU_PROVIDER, {})]
    missing = [n for n, _ in requested if n not in available]
    if missing and not allow_fallback:
        raise EdgeferError(
            f"onnxruntime provider(s) {', '.join(missing)} not available here (available: {', '.join(available)}); "
            "install the onnxruntime build that has them or pass --allow-fallback to run on the CPU"
        )
    chosen = [(n, o) for n, o in requested if n in available]
    if not any(n == CPU_PROVIDER for n, _ in chosen):
        chosen.append((CPU_PROVIDER, {}))
    fallbacks = [{"requested": n, "ran_on": chosen[0][0], "reason": f"not available in this onnxruntime build "
                  f"(available: {', '.join(available)})"} for n in missing]
    return chosen, fallbacks


def session_fallbacks(requested: list[str], used: list[str], allow_fallback: bool) -> list[dict[str, str]]:
    """Providers the session was created with but did not register (onnxruntime drops a provider
    that fails to initialise, e.g. CUDA without its libraries, and retries on the CPU)."""
    dropped = [n for n in requested if n not in used]
    if dropped and not allow_fallback:
        raise EdgeferError(
            f"onnxruntime could not initialise {', '.join(dropped)} (it ran on {', '.join(used)}): check the "
            "CUDA/TensorRT/QNN libraries on this machine, or pass --allow-fallback to accept the CPU"
        )
    return [{"requested": n, "ran_on": used[0] if used else CPU_PROVIDER,
             "reason": "the provider failed to initialise in the session"} for n in dropped]


def parse_litert_accelerators(value: list[str] | str | None) -> list[str]:
    """'gpu,cpu' -> ["gpu", "cpu"] (the first is the one wanted; cpu after it runs what it cannot)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (str(i).strip().lower() for i in items):
        if not item:
            continue
        if item not in LITERT_ACCELERATORS:
            raise EdgeferError(f"unknown LiteRT accelerator '{item}' (choose from: {', '.join(LITERT_ACCELERATORS)})")
        if item not in out:
            out.append(item)
    if not out:
        raise EdgeferError(f"--accelerator needs one of: {', '.join(LITERT_ACCELERATORS)}")
    return out


def accelerator_report(runtime: str, api: str, requested: list[str], used: list[str], allow_fallback: bool,
                       fallbacks: list[dict[str, str]], options: dict[str, dict[str, str]] | None = None,
                       node_counts: dict[str, int] | None = None, node_counts_source: str | None = None,
                       fully_accelerated: bool | None = None) -> dict[str, Any]:
    """The report's `accelerators` section (schema: edgefer/report/accelerators.py)."""
    return {
        "runtime": runtime, "api": api, "requested": requested, "options": options or {}, "used": used,
        "allow_fallback": allow_fallback, "fallbacks": fallbacks, "node_counts": node_counts,
        "node_counts_source": node_counts_source, "fully_accelerated": fully_accelerated,
    }


__all__ = [
    "ORT_PROVIDER_ALIASES", "KNOWN_ORT_PROVIDERS", "canonical_provider", "LITERT_ACCELERATORS", "accelerator_report",
    "check_provider_options", "choose_providers", "parse_litert_accelerators", "parse_provider", "parse_providers",
    "provider_spec_text", "session_fallbacks",
]
