"""Convert every zoo model to every format/precision and print the measured figures.

    python benchmarks/convert_zoo.py [--models a,b] [--to onnx,tflite] [--precision fp32,int8]
                                     [--calib-samples 32] [--out DIR] [--json OUT.json]

Per artifact: conversion time, size, int8/fp32 size ratio (goal <= 0.3) and parity against
PyTorch (fp32: max |logit diff| relative to the largest logit; int8: top-1 agreement). Models
carry their seeded random init and calibration uses random pixels, so the parity figures say
how faithful the converters are, not how accurate a trained model is. Each model runs through
the same `edgefer.convert.convert` as the CLI; a model that fails is reported in its row and
the rest go on. Without --out, artifacts go to a temporary directory that is removed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgefer.convert import ConvertOptions, convert
from edgefer.errors import EdgeferError
from edgefer.zoo import list_models

SIZE_RATIO_GOAL = 0.3


def convert_model(name: str, out: Path, args) -> list[dict]:
    """Rows (one per artifact, or one error row) for one zoo model."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        res = convert(
            ConvertOptions(model=name, out=out / name, formats=tuple(args.to.split(",")),
                           precisions=tuple(args.precision.split(",")), calib_samples=args.calib_samples,
                           seed=0),
            check=False,
        )
    except EdgeferError as exc:
        return [{"model": name, "error": exc.one_line(), "total_s": time.perf_counter() - t0,
                 "cpu_s": time.process_time() - c0}]
    m = res.manifest
    sizes = {(a["format"], a["precision"]): a["size_bytes"] for a in m["artifacts"]}
    rows = []
    for a in m["artifacts"]:
        v = a.get("verification") or {}
        fp32 = sizes.get((a["format"], "fp32"))
        rows.append({
            "model": name, "format": a["format"], "precision": a["precision"], "convert_s": a.get("seconds"),
            "size_bytes": a["size_bytes"],
            "int8_fp32_size_ratio": a["size_bytes"] / fp32 if a["precision"] == "int8" and fp32 else None,
            "max_rel_diff": (v.get("parity") or {}).get("max_rel_diff"),
            "top1_agreement": v.get("top1_agreement"), "verified": v.get("passed"),
        })
    rows += [{"model": name, "error": e} for e in res.errors]
    for r in rows:  # per model: wall time, and CPU time (all threads), which load on a shared box does not inflate
        r["total_s"], r["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    return rows


def render(rows: list[dict], wall_s: float, cpu_s: float) -> None:
    t = Table(title=f"edgefer convert: whole run {wall_s:.0f} s wall, {cpu_s:.0f} s CPU (random init, random calibration)")
    for col in ("model", "format", "prec", "convert s", "size MB", "int8/fp32", "max rel diff", "top-1 agree", "ok"):
        t.add_column(col, justify="left" if col in ("model", "format", "prec") else "right", no_wrap=True)
    for r in rows:
        if "error" in r:
            t.add_row(r["model"], "", "", "", "", "", "", "", f"[red]{r['error'][:90]}")
            continue
        ratio = r["int8_fp32_size_ratio"]
        t.add_row(
            r["model"], r["format"], r["precision"], f"{r['convert_s']:.1f}" if r["convert_s"] else "",
            f"{r['size_bytes'] / 1e6:.2f}",
            "" if ratio is None else (f"{ratio:.2f}" if ratio <= SIZE_RATIO_GOAL else f"[yellow]{ratio:.2f}"),
            "" if r["max_rel_diff"] is None else f"{r['max_rel_diff']:.1e}",
            "" if r["top1_agreement"] is None else f"{100 * r['top1_agreement']:.0f}%",
            "[green]yes" if r["verified"] else "[red]no",
        )
    Console().print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated zoo names (default: all)")
    ap.add_argument("--to", default="onnx,tflite", help="formats (default onnx,tflite)")
    ap.add_argument("--precision", default="fp32,int8", help="precisions (default fp32,int8)")
    ap.add_argument("--calib-samples", type=int, default=32, help="random calibration samples (default 32)")
    ap.add_argument("--out", type=Path, help="keep the artifacts here (default: a temporary directory)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = ap.parse_args(argv)
    models = args.models.split(",") if args.models else list_models()
    t0, c0 = time.perf_counter(), time.process_time()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        for name in models:
            print(f"converting {name} ...", file=sys.stderr, flush=True)
            rows += convert_model(name, out, args)
    wall = time.perf_counter() - t0
    render(rows, wall, time.process_time() - c0)
    if args.json:
        args.json.write_text(json.dumps({"wall_s": wall, "cpu_s": time.process_time() - c0, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
