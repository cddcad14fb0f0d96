"""Verification of converted artifacts: logit parity, top-1 agreement, accuracy gates.

Pure numpy on logits, so the same checks apply to every runtime.
"""

from __future__ import annotations

import numpy as np

DEFAULT_PARITY_TOL = 1e-3  # max |logit diff| relative to max |reference logit|


def parity(ref: np.ndarray, out: np.ndarray, rel_tol: float = DEFAULT_PARITY_TOL) -> dict:
    """fp32 artifact vs PyTorch logits: max/mean absolute difference and a relative pass/fail."""
    diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    scale = float(np.max(np.abs(ref))) or 1.0
    max_abs = float(diff.max())
    return {
        "samples": int(len(ref)),
        "max_abs_diff": max_abs,
        "mean_abs_diff": float(diff.mean()),
        "max_rel_diff": max_abs / scale,
        "tolerance_rel": rel_tol,
        "passed": bool(max_abs <= rel_tol * scale),
    }


def agreement(ref: np.ndarray, out: np.ndarray) -> float:
    """Fraction of samples whose top-1 class is the same."""
    return float(np.mean(ref.argmax(1) == out.argmax(1)))


def classification(logits: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, per-class recall, macro-F1 and confusion matrix (rows = true, cols = predicted)."""
    k = len(class_names)
    pred = logits.argmax(1)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (labels, pred), 1)
    support = cm.sum(1)
    predicted = cm.sum(0)
    tp = np.diag(cm)
    recall = [float(tp[i] / support[i]) if support[i] else None for i in range(k)]
    f1s = []
    for i in range(k):
        if support[i] == 0:
            continue  # macro-F1 over classes present in the evaluation set
        p = tp[i] / predicted[i] if predicted[i] else 0.0
        r = tp[i] / support[i]
        f1s.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return {
        "samples": int(len(labels)),
        "accuracy": float(tp.sum() / max(1, len(labels))),
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "per_class_recall": dict(zip(class_names, recall)),
        "support": dict(zip(class_names, (int(s) for s in support))),
        "confusion_matrix": cm.tolist(),
    }


def int8_gates(
    fp32: dict, int8: dict, max_accuracy_drop: float | None, min_class_recall_ratio: float | None
) -> dict:
    """Compare int8 metrics with fp32; returns the gate record with its violations.

    max_accuracy_drop is in percentage points; the recall ratio is int8/fp32 per class and is
    only defined for classes the fp32 model recalls at all.
    """
    drop_pts = 100.0 * (fp32["accuracy"] - int8["accuracy"])
    ratios = {}
    for name, r32 in fp32["per_class_recall"].items():
        r8 = int8["per_class_recall"][name]
        ratios[name] = None if not r32 or r8 is None else r8 / r32
    violations = []
    if max_accuracy_drop is not None and drop_pts > max_accuracy_drop:
        violations.append(f"accuracy drop {drop_pts:.2f} pts > --max-accuracy-drop {max_accuracy_drop}")
    if min_class_recall_ratio is not None:
        for name, ratio in ratios.items():
            if ratio is not None and ratio < min_class_recall_ratio:
                violations.append(
                    f"class {name}: int8/fp32 recall {ratio:.2f} < --min-class-recall-ratio {min_class_recall_ratio}"
                )
    return {
        "accuracy_drop_pts": drop_pts,
        "recall_ratio": ratios,
        "max_accuracy_drop": max_accuracy_drop,
        "min_class_recall_ratio": min_class_recall_ratio,
        "violations": violations,
        "passed": not violations,
    }
