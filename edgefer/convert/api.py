"""`convert()`: model + data -> verified ONNX/TFLite artifacts and manifest.json.

Artifacts are written into a hidden staging directory inside the output directory and moved
into place only after every step ran; manifest.json is written last. A conversion that dies
half-way therefore leaves no file that looks like a finished artifact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

import numpy as np

from edgefer.convert.manifest import MANIFEST_NAME, artifact_record, new_manifest
from edgefer.convert.onnx_quant import check_quant_options
from edgefer.convert.verify import (
    DEFAULT_PARITY_TOL,
    agreement,
    classification,
    int8_gates,
    parity,
)
from edgefer.errors import EdgeferError, GateFailed
from edgefer.runner.files import write_json_atomic

FORMATS = ("onnx", "tflite")
PRECISIONS = ("fp32", "int8", "fp16")
EXTENSIONS = {"onnx": ".onnx", "tflite": ".tflite"}
RANDOM_VERIFY_SAMPLES = 32
RANDOM_CALIB_WARNING = "int8 was calibrated on RANDOM data (no --calib given): its accuracy is unverified"

Step = Callable[[str], ContextManager]


@dataclass
class ConvertOptions:
    model: str | None = None  # zoo name
    module: str | None = None  # "pkg.file:factory" or "file.py:factory"
    module_args: dict = field(default_factory=dict)
    weights: Path | None = None
    input_size: tuple[int, int] | None = None
    channels: int | None = None
    class_names: list[str] | None = None
    color: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    out: Path = Path("edgefer-out")
    formats: tuple[str, ...] = FORMATS
    precisions: tuple[str, ...] = ("fp32", "int8")  # fp16 on request (--precision fp16)
    target: str | None = None
    calib: str | None = None
    calib_samples: int = 256
    eval: str | None = None
    eval_samples: int | None = 1000
    opset: int = 18
    dynamic_batch: bool = False
    activation_type: str | None = None  # None: from the target profile / host
    calibration: str = "minmax"
    tflite_io: str = "int8"
    verify: bool = True
    parity_tol: float = DEFAULT_PARITY_TOL
    fp16_parity_tol: float | None = None  # None: edgefer.convert.fp16.FP16_PARITY_TOL
    max_accuracy_drop: float | None = None
    min_class_recall_ratio: float | None = None
    seed: int = 0


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


def _check_choices(values: tuple[str, ...], allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    vals = tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    bad = [v for v in vals if v not in allowed]
    if bad or not vals:
        raise EdgeferError(f"{flag} accepts {','.join(allowed)}; got {','.join(values) or 'nothing'}")
    return vals


STAGING_PREFIX = ".edgefer-convert-"


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


def check_options(opts: "ConvertOptions") -> None:
    """Every value by type and range before the slow steps; one line naming the option."""
    import math

    def num(flag: str, v, lo: float, hi: float) -> None:
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                              or not lo <= v <= hi):
            raise EdgeferError(f"{flag} must be between {lo:g} and {hi:g}, got {v!r}")

    num("--calib-samples", opts.calib_samples, 1, 1_000_000)
    num("--eval-samples", opts.eval_samples, 1, 10_000_000)
    num("--opset", opts.opset, 18, 23)
    num("--parity-tol", opts.parity_tol, 1e-9, 1.0)
    fp16_tol = getattr(opts, "fp16_parity_tol", None)
    if fp16_tol is not None and (isinstance(fp16_tol, bool) or not isinstance(fp16_tol, (int, float))
                                 or not math.isfinite(fp16_tol) or not fp16_tol > 0):
        raise EdgeferError(f"--fp16-parity-tol must be > 0, got {fp16_tol}")
    num("--max-accuracy-drop", opts.max_accuracy_drop, 0, 100)
    num("--min-class-recall-ratio", opts.min_class_recall_ratio, 0, 1)
    for flag, vals in (("--mean", opts.mean), ("--std", opts.std)):
        if vals is not None and any(not math.isfinite(v) for v in vals):
            raise EdgeferError(f"{flag} values must be finite numbers, got {list(vals)}")
    if opts.std is not None and any(v <= 0 for v in opts.std):
        raise EdgeferError(f"--std values must be > 0, got {list(opts.std)}")
    gates = [f for f, v in (("--max-accuracy-drop", opts.max_accuracy_drop),
                            ("--min-class-recall-ratio", opts.min_class_recall_ratio)) if v is not None]
    if gates and not opts.eval:
        raise EdgeferError(f"{' and '.join(gates)} need labelled --eval data: without it the gate cannot be "
                           f"evaluated and would pass untested")
    if gates and not opts.verify:
        raise EdgeferError(f"{' and '.join(gates)} cannot be checked with --no-verify")


def _torch_logits(model, x: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate(
            [model(torch.from_numpy(x[i : i + batch])).float().numpy() for i in range(0, len(x), batch)]
        )


def _runtime_logits(path: Path, x: np.ndarray, batch: int = 64) -> tuple[np.ndarray, str]:
    from edgefer.runner.runtimes import open_runtime

    rt = open_runtime(str(path))
    try:
        d = rt.describe()
        # chunks: a dynamic-batch model would otherwise get the whole evaluation set at once
        logits = np.concatenate([rt.predict(x[i : i + batch]) for i in range(0, len(x), batch)])
        return logits, f"{d['name']} {d['version']}"
    finally:
        rt.close()


def _profile(model, spec, name: str) -> dict:
    from edgefer.zoo.profile import profile_model

    p = profile_model(model, spec.shape(1), name=name)
    return {"params_total": p.params_total, "params_trainable": p.params_trainable, "macs": p.macs, "flops": p.flops}


def _export(fmt: str, precision: str, ms, x_example, x_calib, path: Path, opts: ConvertOptions, act: str,
            fp32_paths: dict) -> dict:
    """Produce one artifact at `path`; int8 and fp16 build on the fp32 file of the same format."""
    import torch

    if precision == "fp16":
        from edgefer.convert.fp16 import convert_fp16

        return convert_fp16(fmt, fp32_paths[fmt], path)

    if fmt == "onnx":
        from edgefer.convert.onnx_export import export_onnx
        from edgefer.convert.onnx_quant import quantize_onnx_int8

        if precision == "fp32":
            return export_onnx(ms.model, torch.from_numpy(x_example), path, opts.opset, opts.dynamic_batch)
        return quantize_onnx_int8(fp32_paths["onnx"], x_calib, path, act, opts.calibration)
    try:
        from edgefer.convert.tflite import export_tflite_fp32, quantize_tflite_int8
    except ImportError:
        raise EdgeferError("TFLite conversion is not available in this install (edgefer.convert.tflite)") from None
    if precision == "fp32":
        return export_tflite_fp32(ms.model, torch.from_numpy(x_example), path)
    return quantize_tflite_int8(fp32_paths["tflite"], x_calib, path, io_dtype=opts.tflite_io)


@dataclass
class _Data:
    x_calib: np.ndarray
    calib_rec: dict
    x_ver: np.ndarray  # verification inputs
    y_eval: np.ndarray | None
    ver_rec: dict
    warnings: list[str]


def _check_finite(x: np.ndarray, source: str, flag: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        n = int(bad.reshape(len(x), -1).any(axis=1).sum())
        raise EdgeferError(f"{flag} {source}: {n} of {len(x)} samples contain NaN or infinite values",
                           hint="clean the data: quantization ranges and accuracy computed from them are meaningless")


def _read_data(opts: ConvertOptions, ms, int8: bool) -> _Data:
    """Calibration and verification inputs; random pixels (flagged loudly) when none given."""
    from edgefer.data import load_data, random_inputs, select

    warnings: list[str] = []
    if opts.calib:
        ds = load_data(opts.calib, ms.spec, ms.class_names, default_split="Training")
        # shuffled: ai-edge-quantizer keeps a moving average of per-sample min/max, so samples
        # grouped by class (as image folders list them) would bias ranges towards the last classes
        idx = np.random.default_rng(opts.seed).permutation(select(ds, opts.calib_samples, opts.seed))
        x_calib, calib_rec = ds.take(idx), ds.describe(idx, ms.class_names)
        _check_finite(x_calib, opts.calib, "--calib")
    else:
        x_calib = random_inputs(ms.spec, opts.calib_samples, opts.seed)
        calib_rec = {"source": "random", "samples": opts.calib_samples}
        if int8:
            warnings.append(RANDOM_CALIB_WARNING)
    y_eval = None
    if opts.eval:
        ds = load_data(opts.eval, ms.spec, ms.class_names, default_split="PublicTest")
        idx = select(ds, opts.eval_samples, opts.seed + 1)
        x_ver, y_eval = ds.take(idx), (None if ds.labels is None else ds.labels[idx])
        _check_finite(x_ver, opts.eval, "--eval")
        ver_rec = ds.describe(idx, ms.class_names)
        if y_eval is None:
            warnings.append(f"{opts.eval} has no labels: accuracy not measured, only parity/agreement")
    elif opts.calib:
        x_ver, ver_rec = x_calib, {**calib_rec, "note": "calibration samples (no --eval given)"}
        warnings.append("no --eval data: verified on the calibration samples, accuracy not measured")
    else:
        x_ver = random_inputs(ms.spec, RANDOM_VERIFY_SAMPLES, opts.seed + 1)
        ver_rec = {"source": "random", "samples": RANDOM_VERIFY_SAMPLES}
        warnings.append("no data: verified on random inputs only, accuracy not measured")
    if not opts.verify:  # the notes above are about verification, which is not going to run
        warnings = warnings[:1] if warnings and warnings[0] == RANDOM_CALIB_WARNING else []
        warnings.append("verification skipped (--no-verify): the artifacts are unverified")
    return _Data(x_calib, calib_rec, x_ver, y_eval, ver_rec, warnings)


def convert(opts: ConvertOptions, step: Step | None = None, check: bool = True) -> ConvertResult:
    """Convert, verify, and write artifacts + manifest.json into `opts.out`.

    `step(description)` is a context manager wrapped around each step (progress display).
    With check=True, failed formats raise EdgeferError and failed gates GateFailed, after the
    manifest has been written (so the evidence is on disk).
    """
    from edgefer.convert.model_source import resolve_model

    step = step or (lambda _desc: contextlib.nullcontext())
    formats = _check_choices(tuple(opts.formats), FORMATS, "--to")
    precisions = _check_choices(tuple(opts.precisions), PRECISIONS, "--precision")
    check_options(opts)
    if opts.tflite_io not in ("int8", "float32"):
        raise EdgeferError(f"--tflite-io must be int8 or float32, got {opts.tflite_io!r}")
    # checked before the slow steps (quantize_onnx_int8 checks them again as a library call)
    check_quant_options(opts.activation_type or "U8", opts.calibration)
    if opts.activation_type:
        act, act_why = opts.activation_type.upper(), "--activation-type"
    else:
        act, act_why = _default_activation_type(opts.target)

    with step("load model"):
        ms = resolve_model(
            model=opts.model, module=opts.module, module_args=opts.module_args, weights=opts.weights,
            input_size=opts.input_size, channels=opts.channels, class_names=opts.class_names,
            color=opts.color, mean=opts.mean, std=opts.std,
        )
    with step("read data"):
        data = _read_data(opts, ms, "int8" in precisions)
    x_calib, x_ver, y_eval, warnings = data.x_calib, data.x_ver, data.y_eval, data.warnings
    with step("profile model"):
        prof = _profile(ms.model, ms.spec, ms.name)

    staging = _make_staging(Path(opts.out))
    out = Path(opts.out)
    (out / MANIFEST_NAME).unlink(missing_ok=True)  # the old manifest no longer describes this directory
    try:
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
                        info = _export(fmt, precision, ms, x_ver[:1], x_calib, path, opts, act, fp32_paths)
                    except EdgeferError as exc:
                        errors.append(f"{fmt} {precision}: {exc.one_line()}")
                        path.unlink(missing_ok=True)
                        continue
                if precision == "fp32":
                    fp32_paths[fmt] = path
                if precision in precisions:
                    artifacts.append({**artifact_record(path, fmt, precision, info), "_path": path})
        ref = torch_metrics = None
        violations: list[str] = []
        if opts.verify and artifacts:
            with step("verify: PyTorch reference"):
                ref = _torch_logits(ms.model, x_ver)
                fp16_floor = None
                if "fp16" in precisions:
                    from edgefer.convert.fp16 import weight_rounding_floor

                    fp16_floor = weight_rounding_floor(ms.model, x_ver, ref)
                if y_eval is not None:
                    torch_metrics = classification(ref, y_eval, ms.class_names)
            for a in artifacts:
                with step(f"verify {a['file']}"):
                    a["verification"] = _verify_one(a, ref, x_ver, y_eval, ms.class_names, torch_metrics, opts,
                                                    fp16_floor)
                violations += [f"{a['file']}: {v}" for v in a["verification"].get("violations", [])]
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
            settings={
                "formats": list(formats), "precisions": list(precisions), "opset": opts.opset,
                "dynamic_batch": opts.dynamic_batch, "int8_activation_type": act,
                "int8_activation_type_from": act_why,
                "calib": None if opts.calib is None else str(opts.calib), "calib_samples": opts.calib_samples,
                "calibration_method": opts.calibration,
                "tflite_io": opts.tflite_io, "target": opts.target, "seed": opts.seed,
                "parity_tolerance_rel": opts.parity_tol, "max_accuracy_drop": opts.max_accuracy_drop,
                "fp16_parity_tolerance_rel": opts.fp16_parity_tol or "max(1e-2, 3 x weight-rounding floor)",
                "min_class_recall_ratio": opts.min_class_recall_ratio, "verify": opts.verify,
            },
            calibration=data.calib_rec,
            verification={"inputs": data.ver_rec, "pytorch_fp32": torch_metrics} if opts.verify else None,
            warnings=warnings,
        )
        write_json_atomic(out / MANIFEST_NAME, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result = ConvertResult(out, manifest, errors, violations)
    if check:
        result.check()
    return result


def _verify_one(a: dict, ref: np.ndarray, x: np.ndarray, y: np.ndarray | None, names: list[str],
                torch_metrics: dict | None, opts: ConvertOptions, fp16_floor: float | None = None) -> dict:
    """Run one artifact on the verification inputs and compare it with PyTorch."""
    try:
        logits, runtime = _runtime_logits(a["_path"], x)
    except EdgeferError as exc:
        return {"runtime": None, "error": exc.one_line(), "violations": [f"could not run: {exc.one_line()}"], "passed": False}
    from edgefer.convert.fp16 import parity_tolerance

    tol = parity_tolerance(a["precision"], opts.parity_tol, opts.fp16_parity_tol, fp16_floor)
    rec: dict = {"runtime": runtime, "parity": parity(ref, logits, tol),
                 "top1_agreement": agreement(ref, logits)}
    if a["precision"] == "fp16" and fp16_floor is not None:
        rec["parity"]["fp16_weight_rounding_floor_rel"] = fp16_floor
    violations: list[str] = []
    if a["precision"] in ("fp32", "fp16"):
        if not rec["parity"]["passed"]:
            p = rec["parity"]
            violations.append(f"logits differ from PyTorch by {p['max_abs_diff']:.3g} "
                              f"(relative {p['max_rel_diff']:.3g} > {tol:g})")
    else:  # int8 logits are not expected to match closely: report the difference, gate on accuracy
        rec["parity"] = {k: v for k, v in rec["parity"].items() if k not in ("passed", "tolerance_rel")}
    if y is not None:
        rec["metrics"] = classification(logits, y, names)
        if a["precision"] == "int8":
            rec["gates"] = int8_gates(torch_metrics, rec["metrics"], opts.max_accuracy_drop, opts.min_class_recall_ratio)
            violations += rec["gates"]["violations"]
    rec["violations"] = violations
    rec["passed"] = not violations
    return rec


__all__ = ["ConvertOptions", "ConvertResult", "convert", "FORMATS", "PRECISIONS"]
