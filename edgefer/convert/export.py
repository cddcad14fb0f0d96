"""The artifacts of one `convert()`: each format's fp32 export, then int8/fp16 built from that fp32 file."""

from __future__ import annotations

from pathlib import Path

from edgefer.convert.inputs import ConvertData
from edgefer.convert.manifest import artifact_record
from edgefer.convert.options import ConvertOptions, Step
from edgefer.errors import EdgeferError
from edgefer.runner.options import deferred_interrupts

EXTENSIONS = {"onnx": ".onnx", "tflite": ".tflite"}


def model_facts(model, spec, name: str) -> dict:
    """Parameters, MACs and FLOPs of the PyTorch model, for the manifest."""
    from edgefer.zoo.profile import profile_model

    p = profile_model(model, spec.shape(1), name=name)
    return {"params_total": p.params_total, "params_trainable": p.params_trainable, "macs": p.macs,
            "flops": p.flops}


def export_artifact(fmt: str, precision: str, ms, x_example, x_calib, path: Path, opts: ConvertOptions,
                    act: str, fp32_paths: dict) -> dict:
    """Produce one artifact at `path`; int8 and fp16 build on the fp32 file of the same format."""
    import torch

    if precision == "fp16":
        from edgefer.convert.fp16 import convert_fp16

        return convert_fp16(fmt, fp32_paths[fmt], path)

    if fmt == "onnx":
        from edgefer.convert.onnx_export import export_onnx
        from edgefer.convert.onnx_quant import quantize_onnx_int8

        if precision == "fp32":
            with deferred_interrupts("torch's ONNX exporter"):
                return export_onnx(ms.model, torch.from_numpy(x_example), path, opts.opset, opts.dynamic_batch)
        return quantize_onnx_int8(fp32_paths["onnx"], x_calib, path, act, opts.calibration)
    try:
        from edgefer.convert.tflite import export_tflite_fp32, quantize_tflite_int8
    except ImportError:
        raise EdgeferError(
            "TFLite conversion is not available in this install (edgefer.convert.tflite)"
        ) from None
    if precision == "fp32":
        with deferred_interrupts("torch.export (litert-torch)"):
            return export_tflite_fp32(ms.model, torch.from_numpy(x_example), path)
    return quantize_tflite_int8(fp32_paths["tflite"], x_calib, path, io_dtype=opts.tflite_io)


def export_all(formats: tuple[str, ...], precisions: tuple[str, ...], ms, data: ConvertData, staging: Path,
               opts: ConvertOptions, act: str, step: Step) -> tuple[list[dict], list[str]]:
    """(artifact records, each with its staged file under "_path"; "FORMAT PRECISION: why" of each that
    failed). An fp32 file is made even when only int8/fp16 are asked for: they are built from it."""
    artifacts: list[dict] = []
    errors: list[str] = []
    fp32_paths: dict[str, Path] = {}
    for fmt in formats:
        for precision in ("fp32", "int8", "fp16"):
            derived = {"int8", "fp16"} & set(precisions)  # built from the fp32 file
            if precision not in precisions and not (precision == "fp32" and derived):
                continue
            if precision != "fp32" and fmt not in fp32_paths:
                continue  # its fp32 export already failed and was reported
            path = staging / f"{ms.name}_{precision}{EXTENSIONS[fmt]}"
            with step(f"{fmt} {precision}: convert"):
                try:
                    info = export_artifact(fmt, precision, ms, data.x_ver[:1], data.x_calib, path, opts, act,
                                           fp32_paths)
                except EdgeferError as exc:
                    errors.append(f"{fmt} {precision}: {exc.one_line()}")
                    path.unlink(missing_ok=True)
                    continue
            if precision == "fp32":
                fp32_paths[fmt] = path
            if precision in precisions:
                artifacts.append({**artifact_record(path, fmt, precision, info), "_path": path})
    return artifacts, errors
