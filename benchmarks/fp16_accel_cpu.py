"""fp16 vs fp32 on this machine's CPU, and LiteRT's CompiledModel (CPU accelerator) beside its
Interpreter (XNNPACK delegate), printed as one markdown table (plus --json for the raw figures).

    python benchmarks/fp16_accel_cpu.py mobilenet_v1 [--runs 200] [--blocks 5] [--threads 1] [--out DIR]

Converts the zoo model (random weights: speed and size do not depend on them) with edgefer's
`convert` to ONNX and TFLite in fp32 and fp16 (verified against PyTorch as usual), then times,
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per block")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="conversion directory (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    a = ap.parse_args()

    out = a.out or Path(tempfile.mkdtemp(prefix="edgefer-fp16-")) / a.model
    res = convert(ConvertOptions(model=a.model, out=out, precisions=("fp32", "fp16")))
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
            "p50_ms": round(float(np.median(meds)), 4), "block_min_ms": round(min(meds), 4),
            "block_max_ms": round(max(meds), 4),
        })
    cpu = platform.processor() or platform.machine()
    print(f"# {a.model}: batch 1, {a.threads} thread(s), {a.blocks} blocks x {a.runs} runs, "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}, {cpu}")
    print("| artifact | API | size | x fp32 | max rel. dlogit vs PyTorch | p50 ms | block medians ms |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        diff = "-" if r["max_rel_logit_diff"] is None else f"{r['max_rel_logit_diff']:.2e}"
        print(f"| {r['artifact']} | {r['api']} | {r['size_kb']} KB | {r['size_vs_fp32']:.2f} | {diff} | "
              f"{r['p50_ms']:.3f} | {r['block_min_ms']:.3f}..{r['block_max_ms']:.3f} |")
    if a.json:
        print(json.dumps({"model": a.model, "threads": a.threads, "runs": a.runs, "blocks": a.blocks, "rows": rows}))


if __name__ == "__main__":
    main()
