"""Verification of the staged artifacts: each runs on the verification inputs and is compared with
the PyTorch model (parity for fp32/fp16, accuracy gates for int8); the figures go into the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgefer.convert.inputs import ConvertData
from edgefer.convert.options import ConvertOptions, Step
from edgefer.convert.verify import agreement, classification, int8_gates, parity
from edgefer.errors import EdgeferError


def torch_logits(model, x: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate(
            [model(torch.from_numpy(x[i : i + batch])).float().numpy() for i in range(0, len(x), batch)]
        )


def runtime_logits(path: Path, x: np.ndarray, batch: int = 64) -> tuple[np.ndarray, str]:
    from edgefer.runner.runtimes import open_runtime

    rt = open_runtime(str(path))
    try:
        d = rt.describe()
        # chunks: a dynamic-batch model would otherwise get the whole evaluation set at once
        logits = np.concatenate([rt.predict(x[i : i + batch]) for i in range(0, len(x), batch)])
        return logits, f"{d['name']} {d['version']}"
    finally:
        rt.close()


def verify_all(artifacts: list[dict], ms, data: ConvertData, precisions: tuple[str, ...],
               opts: ConvertOptions, step: Step) -> tuple[dict | None, list[str]]:
    """Adds "verification" to each artifact record;
    returns (PyTorch's metrics or None, the "FILE: violation" lines)."""
    x_ver, y_eval = data.x_ver, data.y_eval
    torch_metrics = None
    violations: list[str] = []
    with step("verify: PyTorch reference"):
        ref = torch_logits(ms.model, x_ver)
        fp16_floor = None
        if "fp16" in precisions:
            from edgefer.convert.fp16 import weight_rounding_floor

            fp16_floor = weight_rounding_floor(ms.model, x_ver, ref)
        if y_eval is not None:
            torch_metrics = classification(ref, y_eval, ms.class_names)
    for a in artifacts:
        with step(f"verify {a['file']}"):
            a["verification"] = verify_artifact(a, ref, x_ver, y_eval, ms.class_names, torch_metrics, opts,
                                                fp16_floor)
        violations += [f"{a['file']}: {v}" for v in a["verification"].get("violations", [])]
    return torch_metrics, violations


def verify_artifact(a: dict, ref: np.ndarray, x: np.ndarray, y: np.ndarray | None, names: list[str],
                    torch_metrics: dict | None, opts: ConvertOptions,
                    fp16_floor: float | None = None) -> dict:
    """Run one artifact on the verification inputs and compare it with PyTorch."""
    try:
        logits, runtime = runtime_logits(a["_path"], x)
    except EdgeferError as exc:
        return {"runtime": None, "error": exc.one_line(), "violations": [f"could not run: {exc.one_line()}"],
                "passed": False}
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
            rec["gates"] = int8_gates(torch_metrics, rec["metrics"], opts.max_accuracy_drop,
                                      opts.min_class_recall_ratio)
            violations += rec["gates"]["violations"]
    rec["violations"] = violations
    rec["passed"] = not violations
    return rec
