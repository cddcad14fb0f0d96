"""Guest instructions per inference of zoo models on the emulated board's two CPU views.

    python benchmarks/icount_zoo.py [--models mobilenet_v1,mobilenet_skip,mobilenet_skip_mha]
                                    [--to onnx] [--runs 3] [--warmup 1] [--json OUT.json]

Each model is converted (fp32 and int8, int8 with the activation type each view's profile picks:
U8 on the Cortex-A72 view, S8 dot-product on the A76 view) and counted with
`edgefer bench --count-instructions` on targets/qemu-aarch64.yaml and qemu-aarch64-a76.yaml, run on
this machine with the board of $EDGEFER_QEMU_DIR (default ~/.cache/edgefer/qemu-aarch64). Printed
per artifact and view: instructions per inference, int8/fp32 ratio, instructions per MAC, and the
spread (max/min - 1) of the per-call counts. Counts are a proxy for work, not time
(docs/instruction-counts.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

VIEWS = {"cortex-a72": "qemu-aarch64", "cortex-a76": "qemu-aarch64-a76"}


def counting_target(profile: str, cpu: str, board: Path, workdir: Path):
    """The view's profile, run locally with the board's wrappers (no sshd needed)."""
    from edgefer.targets import Target, load_target

    t = load_target(profile)
    return Target.model_validate({**t.model_dump(), "connection": {"type": "local"}, "workdir": str(workdir),
                                  "python": [str(board / f"python-{cpu}")],
                                  "instruction_counts": {"python": [str(board / f"python-{cpu}-icount")]}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mobilenet_v1,mobilenet_skip,mobilenet_skip_mha")
    ap.add_argument("--to", default="onnx", help="onnx, tflite or onnx,tflite")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args()
    board = Path(os.environ.get("EDGEFER_QEMU_DIR", Path.home() / ".cache/edgefer/qemu-aarch64"))
    if not (board / "icount/libedgefer-icount.so").exists():
        sys.exit(f"error: no instruction counting on the board {board}: run bash .ci/setup-board.sh")

    from edgefer.bench.api import bench
    from edgefer.convert.api import ConvertOptions, convert
    from edgefer.runner.settings import BenchSettings

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            for cpu, profile in VIEWS.items():
                conv = Path(tmp) / f"{model}-{cpu}"
                res = convert(ConvertOptions(model=model, out=conv, formats=tuple(args.to.split(",")), target=profile,
                                             calib_samples=16), check=False)
                if res.errors:
                    print(f"warning: {model} on {cpu}: {'; '.join(res.errors)}", file=sys.stderr)
                target = counting_target(profile, cpu, board, Path(tmp) / f"work-{cpu}")
                for rep in bench(str(conv), BenchSettings(runs=args.runs, warmup=args.warmup, threads=1, energy="none",
                                                count_instructions=True), target=target):
                    ins = rep["instructions"]
                    rows.append({"model": model, "format": rep["artifact"]["format"],
                                 "precision": rep["artifact"]["precision"], "cpu_view": cpu,
                                 "macs": rep["model"].get("macs"), "per_inference": ins["per_inference"],
                                 "spread": ins["per_inference_max"] / ins["per_inference_min"] - 1,
                                 "first_inference": ins["first_inference"], "marker_overhead": ins["marker_overhead"],
                                 "emulated_p50_ms": rep["statistics"]["per_sample_p50_ms"], "qemu": ins["qemu"],
                                 "runtime": f"{rep['runtime']['name']} {rep['runtime']['version']}"})
    fp32 = {(r["model"], r["format"], r["cpu_view"]): r["per_inference"] for r in rows if r["precision"] == "fp32"}
    t = Table(title=f"guest instructions per inference ({args.runs} timed runs, 1 thread; EMULATED board)")
    for col in ("model", "artifact", "view", "M insn/inf", "int8/fp32", "insn/MAC", "spread", "emulated p50 ms"):
        t.add_column(col, justify="left" if col in ("model", "artifact", "view") else "right")
    for r in rows:
        base = fp32.get((r["model"], r["format"], r["cpu_view"]))
        r["int8_over_fp32"] = r["per_inference"] / base if r["precision"] == "int8" and base else None
        t.add_row(r["model"], f"{r['format']} {r['precision']}", r["cpu_view"], f"{r['per_inference'] / 1e6:.2f}",
                  f"{r['int8_over_fp32']:.3f}" if r["int8_over_fp32"] else "—",
                  f"{r['per_inference'] / r['macs']:.3f}" if r["macs"] else "—", f"{r['spread']:.4%}",
                  f"{r['emulated_p50_ms']:.1f}")
    Console(width=160).print(t)
    if rows:
        print(f"{rows[0]['qemu']}; {rows[0]['runtime']}")
    if args.json:
        from edgefer.runner.files import write_json_atomic

        write_json_atomic(args.json, {"rows": rows, "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()
