"""int8 vs fp32 latency on this machine, per zoo model, for onnxruntime and LiteRT.

    python benchmarks/int8_vs_fp32.py [--models a,b] [--dir DIR] [--to onnx,tflite]
                                      [--rounds 30] [--threads 1] [--json OUT.json]

Artifacts come from DIR/<model>/manifest.json (as written by `edgefer convert` or
benchmarks/convert_zoo.py --out DIR), else are converted into a temporary directory.
For ONNX, both int8 activation types are timed: the published int8 model plus a U8/S8 twin
quantized here from the same fp32 file, because which one pays depends on the CPU.

Timing: every artifact of a model is loaded with `open_runtime`, warmed up, then run batch 1
in interleaved rounds (fp32, int8, fp32, int8, ...) so drifting machine load hits all alike;
the figure is the median of the rounds. Single-threaded by default: this machine is shared
and one thread is what a 4-core board gives each of several streams.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgefer.convert import ConvertOptions, convert
from edgefer.convert.manifest import read_manifest
from edgefer.convert.onnx_quant import quantize_onnx_int8
from edgefer.data import InputSpec, random_inputs
from edgefer.runner.runtimes import open_runtime
from edgefer.zoo import list_models


def artifacts_for(name: str, root: Path, formats: tuple[str, ...]) -> dict[str, Path]:
    """label ('onnx fp32', 'onnx int8 U8', ...) -> file, converting if no manifest exists."""
    mdir = root / name
    if not (mdir / "manifest.json").exists():
        convert(ConvertOptions(model=name, out=mdir, formats=formats, calib_samples=32), check=False)
    m = read_manifest(mdir)
    found: dict[str, Path] = {}
    for a in m["artifacts"]:
        if a["format"] not in formats:
            continue
        label = f"{a['format']} {a['precision']}"
        if a["format"] == "onnx" and a["precision"] == "int8":
            label += f" {a['activation_type']}"
        found[label] = mdir / a["file"]
    if "onnx fp32" in found:  # the other activation type, same fp32 source and calibration kind
        have = {k.split()[-1] for k in found if k.startswith("onnx int8")}
        spec = InputSpec(tuple(m["input"]["input_size"]), m["input"]["channels"],
                         m["input"]["preprocessing"]["color"], tuple(m["input"]["preprocessing"]["mean"]),
                         tuple(m["input"]["preprocessing"]["std"]))
        for act in ("U8", "S8"):
            if act not in have:
                p = mdir / f"{name}_int8_{act}.bench.onnx"
                if not p.exists():
                    quantize_onnx_int8(found["onnx fp32"], random_inputs(spec, 32), p, act)
                found[f"onnx int8 {act}"] = p
    return found


def time_interleaved(paths: dict[str, Path], rounds: int, warmup: int, threads: int) -> dict[str, float]:
    """Median batch-1 latency in ms per artifact, runs interleaved across artifacts."""
    rts = {k: open_runtime(str(p), threads=threads) for k, p in paths.items()}
    feeds = {k: rt.make_inputs(1, seed=0) for k, rt in rts.items()}
    samples: dict[str, list[float]] = {k: [] for k in rts}
    for r in range(warmup + rounds):
        for k, rt in rts.items():
            t0 = time.perf_counter_ns()
            rt.run(feeds[k])
            dt = (time.perf_counter_ns() - t0) / 1e6
            if r >= warmup:
                samples[k].append(dt)
    for rt in rts.values():
        rt.close()
    return {k: statistics.median(v) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated zoo names (default: all)")
    ap.add_argument("--dir", type=Path, help="directory of converted models (DIR/<model>/manifest.json)")
    ap.add_argument("--to", default="onnx,tflite", help="formats to time (default onnx,tflite)")
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds per artifact (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default 5)")
    ap.add_argument("--threads", type=int, default=1, help="runtime threads (default 1)")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    formats = tuple(args.to.split(","))
    models = args.models.split(",") if args.models else list_models()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        for name in models:
            print(f"timing {name} ...", file=sys.stderr, flush=True)
            try:
                med = time_interleaved(artifacts_for(name, root, formats), args.rounds, args.warmup, args.threads)
            except Exception as exc:  # one failing model must not stop the table
                rows.append({"model": name, "error": f"{type(exc).__name__}: {str(exc)[:120]}"})
                continue
            rows.append({"model": name, "median_ms": med})
    t = Table(title=f"median batch-1 latency, ms ({args.threads} thread(s), {args.rounds} interleaved rounds)")
    cols = ["onnx fp32", "onnx int8 U8", "onnx int8 S8", "tflite fp32", "tflite int8"]
    t.add_column("model")
    for c in cols:
        t.add_column(c, justify="right")
    t.add_column("U8/fp32", justify="right")
    t.add_column("S8/fp32", justify="right")
    t.add_column("tflite int8/fp32", justify="right")
    for r in rows:
        if "error" in r:
            t.add_row(r["model"], f"[red]{r['error']}")
            continue
        med = r["median_ms"]

        def ratio(a: str, b: str) -> str:
            return f"{med[a] / med[b]:.2f}" if a in med and b in med else ""

        r["ratios"] = {"onnx_u8_vs_fp32": ratio("onnx int8 U8", "onnx fp32"),
                       "onnx_s8_vs_fp32": ratio("onnx int8 S8", "onnx fp32"),
                       "tflite_int8_vs_fp32": ratio("tflite int8", "tflite fp32")}
        t.add_row(r["model"], *[f"{med[c]:.2f}" if c in med else "" for c in cols], *r["ratios"].values())
    Console().print(t)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "rounds": args.rounds, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
