"""`targets check` warnings about accelerators: which one the profile's providers reach, which
precisions each lacks (e.g. no int8 on Jetson Nano's Maxwell GPU), and what the providers need."""

from __future__ import annotations

from edgefer.targets.schema import ProviderEntry, Target

_CPU_ROUTES = {"CPUExecutionProvider", "XnnpackExecutionProvider", "litert:cpu"}
_TRUE = ("true", "1")


def _routes(t: Target) -> dict[str, dict]:
    """Provider names (with options) and litert:<accelerator> routes the profile asks for."""
    from edgefer.runner.accel import canonical_provider

    out: dict[str, dict] = {}
    for entry in t.runtimes.onnxruntime.providers:
        if isinstance(entry, ProviderEntry):
            out[canonical_provider(entry.name)] = {k: str(v) for k, v in entry.options.items()}
        else:
            name, _, opts = entry.partition(":")
            out[canonical_provider(name)] = dict(o.split("=", 1) for o in opts.split(";") if "=" in o)
    for acc in t.runtimes.tflite.accelerator or []:
        out[f"litert:{acc}"] = {}
    return out


def accelerator_warnings(t: Target) -> list[str]:
    routes = _routes(t)
    out: list[str] = []
    for a in t.accelerators:
        if not a.precisions:
            continue
        used = [r for r in a.reached_by if r in routes]
        if not used:
            how = f" (reach it with: {', '.join(a.reached_by)})" if a.reached_by else ""
            out.append(f"accelerator {a.name} ({a.type}) is not used: the profile's providers/accelerators "
                       f"are {', '.join(routes) or 'CPU only'}{how}")
            continue
        via = ", ".join(used)
        if "int8" not in a.precisions:
            out.append(f"accelerator {a.name} has no int8 (precisions: {', '.join(a.precisions)}): int8 artifacts "
                       f"do not run on it through {via} (they fall to CPU kernels or fail); benchmark fp16 there")
            trt = routes.get("TensorrtExecutionProvider", {})
            if trt.get("trt_int8_enable", "").lower() in _TRUE:
                out.append(f"TensorrtExecutionProvider has trt_int8_enable but {a.name} has no int8: TensorRT "
                           "will refuse or ignore it")
        if "fp16" in a.precisions:
            trt_note = ("; TensorRT's trt_fp16_enable also lets fp32 models use fp16 kernels (then the artifact's "
                        "precision is not the one that ran)") if "TensorrtExecutionProvider" in used else ""
            out.append(f"accelerator {a.name} runs fp16: convert with --precision fp16 (half the weights){trt_note}")
        else:
            out.append(f"accelerator {a.name} has no fp16 (precisions: {', '.join(a.precisions)}): fp16 artifacts "
                       "will not run on it")
    accelerated = [r for r in routes if r not in _CPU_ROUTES]
    if accelerated and t.runtimes.onnxruntime.requires:
        out.append(f"providers {', '.join(r for r in accelerated if not r.startswith('litert:'))} need: "
                   f"{' '.join(t.runtimes.onnxruntime.requires.split())}")
    return [w for w in out if w]
