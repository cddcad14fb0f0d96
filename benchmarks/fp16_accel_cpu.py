"""fp16 vs fp32 on this machine's CPU, and LiteRT's CompiledModel (CPU accelerator) beside its
Interpreter (XNNPACK delegate), printed as one markdown table (plus --json for the raw figures).

    python benchmarks/fp16_accel_cpu.py mobilenet_v1 [--runs 200] [--blocks 5] [--threads 1] [--untrained]

No FER weights ship with edgefer. By default the zoo model is first made into a classifier of a
synthetic task the way benchmarks/tflite_zoo.py does it (BatchNorm statistics from data, last
Linear fitted; seeded), so its activations have realistic ranges and the fp16-vs-PyTorch logit
difference means something; --untrained converts the raw seeded zoo model instead, whose
never-calibrated BatchNorms let activations grow layer after layer (fp16 rounding grows with them:
a worst case, shown for contrast). Speed and size do not depend on the weights.
It converts with edgefer's `convert` to ONNX and TFLite in fp32 and fp16 (verified against
PyTorch; a failed fp16 gate is reported in the table, not fatal), then times,
in interleaved blocks so drift hits every variant alike:
  onnx fp32 / fp16   onnxruntime CPUExecutionProvider
  tflite fp32 / fp16 LiteRT Interpreter (XNNPACK) and LiteRT CompiledModel(HardwareAccelerator.CPU)
One sample = one batch-1 inference including input copy-in and output copy-out (set_tensor /
invoke / get_tensor for the Interpreter, TensorBuffer write / run / read for CompiledModel).
p50 = median of the per-block medians; spread = min..max of the block medians.
Run on a quiet machine: other processes change every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from edgefer.convert.api import ConvertOptions, convert
from edgefer.runner.loadgen import run_load
from edgefer.runner.runtimes import open_runtime

VARIANTS = [  # (format, precision, API label, open_runtime options)
    ("onnx", "fp32", "ORT CPU EP", {}),
    ("onnx", "fp16", "ORT CPU EP", {}),
    ("tflite", "fp32", "LiteRT Interpreter (XNNPACK)", {}),
    ("tflite", "fp32", "LiteRT CompiledModel (CPU)", {"accelerator": "cpu"}),
    ("tflite", "fp16", "LiteRT Interpreter (XNNPACK)", {}),
    ("tflite", "fp16", "LiteRT CompiledModel (CPU)", {"accelerator": "cpu"}),
]


def fitted_zoo_model(name: str, fit_samples: int = 256):
    """`convert --module` factory: the zoo model fitted to the synthetic task (tflite_zoo.py)."""
    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tflite_zoo import fit_classifier

    from edgefer.zoo import create_model, get_entry

    torch.manual_seed(0)
    return fit_classifier(create_model(name, seed=0).eval(), get_entry(name).input_shape()[1:], fit_samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per block")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="conversion directory (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    ap.add_argument("--untrained", action="store_true", help="the raw seeded zoo model (BatchNorm never calibrated)")
    a = ap.parse_args()

    from edgefer.zoo import get_entry

    out = a.out or Path(tempfile.mkdtemp(prefix="edgefer-fp16-")) / a.model
    if a.untrained:
        opts = ConvertOptions(model=a.model, out=out, precisions=("fp32", "fp16"))
    else:
        _, c, h, w = get_entry(a.model).input_shape()
        opts = ConvertOptions(module=f"{Path(__file__).resolve()}:fitted_zoo_model", module_args={"name": a.model},
                              input_size=(h, w), channels=c, out=out, precisions=("fp32", "fp16"))
    res = convert(opts, check=False)
    files = {(r["format"], r["precision"]): r for r in res.manifest["artifacts"]}
    runtimes, feeds = [], []
    for fmt, prec, _, opts in VARIANTS:
        rt = open_runtime(str(out / files[fmt, prec]["file"]), threads=a.threads, **opts)
        runtimes.append(rt)
        feeds.append(rt.make_inputs(1, seed=0))
    blocks: list[list[float]] = [[] for _ in VARIANTS]
    for _ in range(a.blocks):
        for k, rt in enumerate(runtimes):
            s = run_load(lambda rt=rt, f=feeds[k]: rt.run(f), a.runs, warmup=10).samples_ns
            blocks[k].append(float(np.median(s)) / 1e6)
    rows = []
    for (fmt, prec, api, _), meds in zip(VARIANTS, blocks):
        rec = files[fmt, prec]
        ver = rec.get("verification") or {}
        rows.append({
            "artifact": rec["file"], "format": fmt, "precision": prec, "api": api,
            "size_kb": round(rec["size_bytes"] / 1024, 1),
            "size_vs_fp32": round(rec["size_bytes"] / files[fmt, "fp32"]["size_bytes"], 3),
            "max_rel_logit_diff": (ver.get("parity") or {}).get("max_rel_diff"),
            "verified": ver.get("passed"), "top1_agreement": ver.get("top1_agreement"),
            "fp16_weight_rounding_floor_rel": (ver.get("parity") or {}).get("fp16_weight_rounding_floor_rel"),
            "p50_ms": round(float(np.median(meds)), 4), "block_min_ms": round(min(meds), 4),
            "block_max_ms": round(max(meds), 4),
        })
    cpu = platform.processor() or platform.machine()
    kind = "untrained zoo model" if a.untrained else "zoo model fitted to the synthetic task"
    print(f"# {a.model} ({kind}): batch 1, {a.threads} thread(s), {a.blocks} blocks x {a.runs} runs, "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}, {cpu}")
    print("| artifact | API | size | x fp32 | max rel. dlogit vs PyTorch (gate) | fp16 weight-rounding floor | "
          "top-1 agree | p50 ms | block medians ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        diff = "-" if r["max_rel_logit_diff"] is None else f"{r['max_rel_logit_diff']:.2e}"
        diff += "" if r["verified"] is None else (" (pass)" if r["verified"] else " (FAIL)")
        agree = "-" if r["top1_agreement"] is None else f"{100 * r['top1_agreement']:.0f}%"
        fl = r["fp16_weight_rounding_floor_rel"]
        floor = "-" if fl is None else f"{fl:.2e}"
        print(f"| {r['artifact']} | {r['api']} | {r['size_kb']} KB | {r['size_vs_fp32']:.2f} | {diff} | {floor} | {agree} | "
              f"{r['p50_ms']:.3f} | {r['block_min_ms']:.3f}..{r['block_max_ms']:.3f} |")
    if a.json:
        print(json.dumps({"model": a.model, "threads": a.threads, "runs": a.runs, "blocks": a.blocks, "rows": rows}))


if __name__ == "__main__":
    main()
