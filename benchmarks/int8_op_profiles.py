"""Why int8 is slower than fp32, from op profiles: the figures of docs/op-profiles.md.

    python benchmarks/int8_op_profiles.py [--models a,b] --dir DIR [--target local]
                                          [--runs 30] [--profile-runs 20] [--threads 1]
                                          [--reports REPORTS_DIR] [--formats onnx,tflite]

For each model in DIR/<model>/ (converted by `edgefer convert` / benchmarks/convert_zoo.py
--out DIR), every artifact is benchmarked with `--op-profile` (reports kept in REPORTS_DIR/<model>/;
a report already there is reused, so `op_profile_check.py --out` output can be fed in).
Printed per model:
- onnxruntime: timed mean fp32 and int8 (unprofiled runs), int8/fp32, the op families whose
  per-node time changed most (int8 op counted as the float op it replaces), the Q/DQ share and
  the float islands (ops with no int8 kernel) of the int8 profile;
- LiteRT: timed mean fp32 and int8, XNNPACK partitions and the op types left on built-in kernels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgefer.bench.api import bench
from edgefer.compare.op_profile import compare_op_profiles
from edgefer.runner.settings import BenchSettings


def reports_for(model_dir: Path, fmt: str, out: Path, a) -> dict[str, dict]:
    """precision -> report, benchmarking what is not in `out` yet."""
    out.mkdir(parents=True, exist_ok=True)
    found = {}
    for p in sorted(out.glob(f"*.{fmt}.json")):
        r = json.loads(p.read_text())
        if r.get("op_profile"):
            found[r["artifact"]["precision"]] = r
    if {"fp32", "int8"} <= set(found):
        return found
    for r in bench(str(model_dir), BenchSettings(runs=a.runs, warmup=a.warmup, min_seconds=0.0, threads=a.threads,
                                             energy="none", op_profile=a.profile_runs),
                   target=a.target, fmt=fmt, out=str(out)):
        found[r["artifact"]["precision"]] = r
    return found


def onnx_row(name: str, reps: dict[str, dict]) -> list[str]:
    f, i = reps["fp32"], reps["int8"]
    c = compare_op_profiles(f, i, "fp32", "int8")
    worse = [r for r in c.rows if (r.delta_ms or 0) > 0][:3]
    better = [r for r in c.rows if (r.delta_ms or 0) < 0][:2]
    total = c.other_total_ms or 1.0
    q = i["op_profile"]["quantization"] or {}
    islands: list[str] = []
    for isl in q.get("float_islands", []):
        for t in isl["op_types"]:
            if t not in islands:
                islands.append(t)
    fm, im = f["statistics"]["mean_ms"], i["statistics"]["mean_ms"]
    return [name, f"{fm:.2f}", f"{im:.2f}", f"{im / fm:.2f}",
            ", ".join(f"{r.family} +{r.delta_ms / total:.0%}" for r in worse),
            ", ".join(f"{r.family} {r.delta_ms / total:.0%}" for r in better),
            f"{q.get('qdq_share', 0):.0%}", f"{q.get('float_island_share', 0):.0%} ({', '.join(islands) or '-'})"]


MAC_FAMILIES = ("Conv", "MatMul", "Gemm")


def share_row(name: str, reps: dict[str, dict]) -> list[str]:
    """Shares within each profile (robust to machine load, unlike times across two reports)."""
    from edgefer.compare.op_profile import QDQ_FAMILY, op_family

    def shares(rep: dict) -> dict[str, float]:
        out: dict[str, float] = {}
        for t in rep["op_profile"]["op_types"]:
            fam = op_family(t["op_type"])
            out[fam] = out.get(fam, 0.0) + (t["share"] or 0.0)
        return out

    f, i = shares(reps["fp32"]), shares(reps["int8"])
    q = reps["int8"]["op_profile"]["quantization"] or {}
    int8_other = sum(v for k, v in i.items() if k not in MAC_FAMILIES and k != QDQ_FAMILY) - q.get("float_island_share", 0)
    return [name, f"{sum(f.get(k, 0) for k in MAC_FAMILIES):.0%}", f"{sum(i.get(k, 0) for k in MAC_FAMILIES):.0%}",
            f"{i.get(QDQ_FAMILY, 0):.0%}", f"{q.get('float_island_share', 0):.0%}", f"{max(int8_other, 0):.0%}",
            str(q.get("quantize_nodes", 0) + q.get("dequantize_nodes", 0))]


def tflite_row(name: str, reps: dict[str, dict]) -> list[str]:
    f, i = reps["fp32"], reps["int8"]
    cells = [name, f"{f['statistics']['mean_ms']:.2f}", f"{i['statistics']['mean_ms']:.2f}",
             f"{i['statistics']['mean_ms'] / f['statistics']['mean_ms']:.2f}"]
    for r in (f, i):
        op = r["op_profile"]
        d = op.get("delegation") or {}
        left = [f"{t['op_type']} x{t['builtin']}" for t in op["op_types"] if t.get("builtin")]
        cells.append(f"{d.get('partitions')} part., {d.get('ops_delegated')}/{d.get('ops_total')} delegated"
                     + (f"; built-in: {', '.join(left)}" if left else ""))
    return cells


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mobilenetv3_large,mobilenetv3_dka,mobilenetv3_ca_dka,mobilenet_skip_mha")
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--target", default="local")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--profile-runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reports", type=Path, required=True)
    ap.add_argument("--formats", default="onnx,tflite")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables (for docs)")
    a = ap.parse_args(argv)
    console = Console(width=220)

    def show(t: Table) -> None:
        if not a.markdown:
            console.print(t)
            return
        cols = [c.header for c in t.columns]
        print(f"\n{t.title}\n\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for k in range(t.row_count):
            print("| " + " | ".join(str(c._cells[k]) for c in t.columns) + " |")
    formats = a.formats.split(",")
    if "onnx" in formats:
        t = Table(title=f"onnxruntime int8 vs fp32, per-op profiles ({a.target}, {a.threads} thread(s))")
        for col in ("model", "fp32 ms", "int8 ms", "int8/fp32", "costlier in int8 (share of int8 total)",
                    "cheaper in int8", "Q/DQ share", "float islands share (ops)"):
            t.add_column(col)
        shares = Table(title="onnxruntime: shares of the per-node total within each profile")
        for col in ("model", "fp32: Conv/MatMul/Gemm", "int8: Conv/MatMul/Gemm", "int8: Q/DQ", "int8: float islands",
                    "int8: other (int8 elementwise, reshapes)", "Q/DQ nodes"):
            shares.add_column(col)
        for name in a.models.split(","):
            reps = reports_for(a.dir / name, "onnx", a.reports / name, a)
            t.add_row(*onnx_row(name, reps))
            shares.add_row(*share_row(name, reps))
        show(t)
        show(shares)
    if "tflite" in formats:
        t = Table(title=f"LiteRT int8 vs fp32, XNNPACK partitions ({a.target}, {a.threads} thread(s))")
        for col in ("model", "fp32 ms", "int8 ms", "int8/fp32", "fp32 delegation", "int8 delegation"):
            t.add_column(col)
        for name in a.models.split(","):
            t.add_row(*tflite_row(name, reports_for(a.dir / name, "tflite", a.reports / name, a)))
        show(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
