"""Check of the op-profile method: per-op times of profiled runs add up to the unprofiled latency.

    python benchmarks/op_profile_check.py [--models a,b] [--dir DIR] [--target local]
                                          [--runs 30] [--profile-runs 20] [--threads 1]
                                          [--rounds 3] [--out REPORTS_DIR]

For each zoo model's ONNX artifacts (fp32, int8) in DIR/<model>/ (written by `edgefer convert`
or benchmarks/convert_zoo.py --out DIR; converted into a temporary directory when missing),
`edgefer.bench.api.bench` runs the timed runs and then, separately, the profiled runs
(`--op-profile`). Printed per artifact (means over the rounds): the unprofiled mean latency, the sum of the per-node
mean times, their ratio (expected 0.7-1.3: the profiler's per-node events cover the graph
without the run's fixed overhead, and its own overhead adds a little), and onnxruntime's own
model_run time in the profiled runs. Timed and profiled runs alternate over --rounds rounds
(each a fresh bench of fp32 and int8), so load drift on a shared machine hits both. With --out, the
full reports are kept (for `edgefer report
show` / `edgefer compare`). LiteRT artifacts are skipped: its Python runtime has no per-op timer.
Exit 1 when a ratio falls outside 0.7-1.3.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgefer.bench.api import bench
from edgefer.convert import ConvertOptions, convert
from edgefer.runner.settings import BenchSettings

DEFAULT_MODELS = "mobilenetv3_large,mobilenetv3_dka,mobilenetv3_ca_dka,mobilenet_skip_mha"
LOW, HIGH = 0.7, 1.3


def model_dir(name: str, root: Path) -> Path:
    d = root / name
    if not (d / "manifest.json").exists():
        convert(ConvertOptions(model=name, out=d, formats=("onnx",), calib_samples=32, seed=0), check=False)
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--dir", type=Path, help="converted models (DIR/<model>/manifest.json)")
    ap.add_argument("--target", default="local")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--profile-runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="alternate timed and profiled runs this many times")
    ap.add_argument("--out", type=Path, help="keep the reports here, <model>/<artifact>.json")
    a = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory() if a.dir is None else None
    root = a.dir or Path(tmp.name)
    table = Table(title=f"per-op sum vs unprofiled mean latency ({a.target}, {a.threads} thread(s))")
    for col in ("model", "artifact", "timed mean ms", "per-op sum ms", "ratio", "model_run ms", "rounds x profiled runs"):
        table.add_column(col, justify="left" if col in ("model", "artifact") else "right")
    bad = 0
    settings = BenchSettings(runs=a.runs, warmup=a.warmup, min_seconds=0.0, threads=a.threads, energy="none",
                             op_profile=a.profile_runs)
    for name in a.models.split(","):
        out = None
        if a.out is not None:
            out = a.out / name
            out.mkdir(parents=True, exist_ok=True)
        # rounds: timed and profiled runs alternate (per round, per artifact), so a machine whose load
        # drifts slows both alike; the figures are means over the rounds
        rounds: dict[str, list[dict]] = {}
        for k in range(a.rounds):
            for r in bench(str(model_dir(name, root)), settings, target=a.target, fmt="onnx",
                           out=str(out) if out and k == a.rounds - 1 else None):
                rounds.setdefault(f"{r['artifact']['format']} {r['artifact']['precision']}", []).append(r)
        for label, reps in rounds.items():
            timed = sum(r["statistics"]["mean_ms"] for r in reps) / len(reps)
            totals = [r["op_profile"].get("nodes_total_ms") for r in reps]
            total = sum(totals) / len(totals) if all(totals) else None
            runs_ms = [r["op_profile"].get("model_run_mean_ms") or 0.0 for r in reps]
            ratio = total / timed if total else None
            bad += ratio is None or not LOW <= ratio <= HIGH
            table.add_row(name, label, f"{timed:.3f}", f"{total:.3f}" if total else "-", f"{ratio:.2f}" if ratio else "-",
                          f"{sum(runs_ms) / len(runs_ms):.3f}", f"{len(reps)} x {reps[0]['op_profile']['profiled_runs']}")
    Console(width=140).print(table)
    if tmp is not None:
        tmp.cleanup()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
