"""`convert()`: model + data -> verified ONNX/TFLite artifacts and manifest.json.

Artifacts are written into a hidden staging directory inside the output directory and moved
into place only after every step ran; manifest.json is written last. A conversion that dies
half-way therefore leaves no file that looks like a finished artifact.

The steps live beside this module: options (ConvertOptions and their checks), inputs (calibration
and verification data), export (the artifacts), verification (each artifact against PyTorch).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgefer.convert.export import export_all, model_facts
from edgefer.convert.inputs import read_data
from edgefer.convert.manifest import MANIFEST_NAME, new_manifest
from edgefer.convert.onnx_quant import check_quant_options
from edgefer.convert.options import FORMATS, PRECISIONS, ConvertOptions, Step, check_choices, check_options
from edgefer.convert.verify_step import verify_all
from edgefer.errors import EdgeferError, GateFailed
from edgefer.runner.files import write_json_atomic

STAGING_PREFIX = ".edgefer-convert-"


@dataclass
class ConvertResult:
    out_dir: Path
    manifest: dict
    errors: list[str]  # formats/precisions that could not be produced
    violations: list[str]  # verification gates that failed

    def check(self) -> None:
        """Raise for failed conversions (EdgeferError) or failed gates (GateFailed)."""
        if self.errors:
            raise EdgeferError("; ".join(self.errors))
        if self.violations:
            n = len(self.violations)
            more = f" (+{n - 1} more)" if n > 1 else ""
            raise GateFailed(
                f"verification failed: {self.violations[0]}{more}; details in {self.out_dir / MANIFEST_NAME}"
            )


def _default_activation_type(target: str | None) -> tuple[str, str]:
    """(U8|S8, why): the target profile decides; without one, this machine's profile (`local`,
    which reads the host's arch and CPU flags), by the same rule as every board's."""
    from edgefer.targets import load_target

    t = load_target(target or "local")
    return t.int8_activation_type(), f"target {target}" if target else f"host {t.arch} (local profile)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_staging(out: Path) -> list[Path]:
    """Staging dirs left by a convert that died (killed, power cut): their pid is gone."""
    removed = []
    for d in out.glob(STAGING_PREFIX + "*"):
        pid_text = d.name[len(STAGING_PREFIX):].split("-", 1)[0]
        if d.is_dir() and (not pid_text.isdigit() or not _pid_alive(int(pid_text))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _make_staging(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out)
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=out))
    except OSError as exc:
        raise EdgeferError(f"output directory {out} is not writable: {exc.strerror or exc}") from None


def _checked_choices(opts: ConvertOptions) -> tuple[tuple[str, ...], tuple[str, ...], str, str]:
    """(formats, precisions, int8 activation type, where that type came from), every option checked."""
    formats = check_choices(tuple(opts.formats), FORMATS, "--to")
    precisions = check_choices(tuple(opts.precisions), PRECISIONS, "--precision")
    check_options(opts)
    if opts.tflite_io not in ("int8", "float32"):
        raise EdgeferError(f"--tflite-io must be int8 or float32, got {opts.tflite_io!r}")
    # checked before the slow steps (quantize_onnx_int8 checks them again as a library call)
    check_quant_options(opts.activation_type or "U8", opts.calibration)
    if opts.activation_type:
        return formats, precisions, opts.activation_type.upper(), "--activation-type"
    return formats, precisions, *_default_activation_type(opts.target)


def _manifest_settings(opts: ConvertOptions, formats: tuple[str, ...], precisions: tuple[str, ...], act: str,
                       act_why: str) -> dict:
    return {
        "formats": list(formats), "precisions": list(precisions), "opset": opts.opset,
        "dynamic_batch": opts.dynamic_batch, "int8_activation_type": act,
        "int8_activation_type_from": act_why,
        "calib": None if opts.calib is None else str(opts.calib), "calib_samples": opts.calib_samples,
        "calibration_method": opts.calibration,
        "tflite_io": opts.tflite_io, "target": opts.target, "seed": opts.seed,
        "parity_tolerance_rel": opts.parity_tol, "max_accuracy_drop": opts.max_accuracy_drop,
        "fp16_parity_tolerance_rel": opts.fp16_parity_tol or "max(1e-2, 3 x weight-rounding floor)",
        "min_class_recall_ratio": opts.min_class_recall_ratio, "verify": opts.verify,
    }


def convert(opts: ConvertOptions, step: Step | None = None, check: bool = True) -> ConvertResult:
    """Convert, verify, and write artifacts + manifest.json into `opts.out`.

    `step(description)` is a context manager wrapped around each step (progress display).
    With check=True, failed formats raise EdgeferError and failed gates GateFailed, after the
    manifest has been written (so the evidence is on disk).
    """
    from edgefer.convert.model_source import resolve_model

    step = step or (lambda _desc: contextlib.nullcontext())
    formats, precisions, act, act_why = _checked_choices(opts)
    with step("load model"):
        ms = resolve_model(
            model=opts.model, module=opts.module, module_args=opts.module_args, weights=opts.weights,
            input_size=opts.input_size, channels=opts.channels, class_names=opts.class_names,
            color=opts.color, mean=opts.mean, std=opts.std,
        )
    with step("read data"):
        data = read_data(opts, ms, "int8" in precisions)
    with step("profile model"):
        prof = model_facts(ms.model, ms.spec, ms.name)

    staging = _make_staging(Path(opts.out))
    out = Path(opts.out)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # the old manifest no longer describes this directory
    try:
        artifacts, errors = export_all(formats, precisions, ms, data, staging, opts, act, step)
        torch_metrics, violations = None, []
        if opts.verify and artifacts:
            torch_metrics, violations = verify_all(artifacts, ms, data, precisions, opts, step)
        for a in artifacts:
            src = a.pop("_path")
            src.replace(out / a["file"])
        manifest = new_manifest(
            model={"name": ms.name, **prof},
            source=ms.source,
            weights=ms.weights,
            input=ms.spec.to_dict(),
            class_names=ms.class_names,
            artifacts=artifacts,
            failed=errors,
            settings=_manifest_settings(opts, formats, precisions, act, act_why),
            calibration=data.calib_rec,
            verification={"inputs": data.ver_rec, "pytorch_fp32": torch_metrics} if opts.verify else None,
            warnings=data.warnings,
        )
        write_json_atomic(out / MANIFEST_NAME, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = ConvertResult(out, manifest, errors, violations)
    if check:
        result.check()
    return result


__all__ = ["ConvertOptions", "ConvertResult", "convert", "FORMATS", "PRECISIONS"]
