"""A/A test of the CI gate: how often does `compare --fail-on-regression 5%` cry wolf, and does it
catch a real slowdown?

Benches one artifact N times with the defaults (`edgefer bench ART`, each a separate command, as CI
jobs would), and a genuinely slower variant N times (the same model at a larger input: about 1.3x
the MACs), interleaved A B A B ... so drift hits both alike. Then:
- false alarms: all A/A pairs with the gate at 5%: the share that fails (goal <= 5%);
- detection: all A/B pairs (A baseline): the share the gate flags (goal >= 95%);
side by side with the 0.1.0 statistics (every sample pooled as if independent, within-run only).

    python benchmarks/aa_false_alarms.py                 # mobilenetv3_large ONNX fp32, N=6
    python benchmarks/aa_false_alarms.py --n 8 --model mobilenet_v1 --size 48 --control-size 56

Run it on a quiet machine: it measures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def convert_one(model: str, size: int, out: Path) -> Path:
    from edgefer.convert import ConvertOptions, convert

    res = convert(ConvertOptions(model=model, input_size=(size, size), out=out, formats=("onnx",),
                                 precisions=("fp32",)))
    return out / res.manifest["artifacts"][0]["file"]


def bench_cli(artifact: Path, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "edgefer", "bench", str(artifact), "--energy", "none", "--out", str(out), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if p.returncode != 0:
        raise SystemExit(f"bench failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(out.read_text())


def gate(base: dict, other: dict, pooled: bool) -> bool:
    """True when `compare --fail-on-regression 5%` fails (exit 1)."""
    from edgefer.compare.reports import compare_reports

    if pooled:  # 0.1.0: all samples as one independent group, within-run interval
        base, other = dict(base, repeats=None), dict(other, repeats=None)
    cmp = compare_reports([base, other], threshold=0.05, within_run=pooled)
    return any("latency" in r for r in cmp.regressions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenetv3_large")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--control-size", type=int, default=256, help="input of the slower variant (256: 1.31x MACs)")
    ap.add_argument("--n", type=int, default=6, help="benches of each artifact")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--target", default="local", help="target profile to bench on (default: this machine)")
    ap.add_argument("--bench-args", default="", help="extra `edgefer bench` options (default: none = the defaults)")
    ap.add_argument("--keep", metavar="DIR", help="keep the reports there (and reuse them with --reuse DIR)")
    ap.add_argument("--reuse", metavar="DIR", help="analyse the reports a previous --keep run left, measure nothing")
    args = ap.parse_args()
    if args.reuse:
        d = Path(args.reuse)
        n = len(list(d.glob("a*.json")))
        reps_a = [json.loads((d / f"a{i}.json").read_text()) for i in range(n)]
        reps_b = [json.loads((d / f"b{i}.json").read_text()) for i in range(n)]
        macs = [reps_a[0]["model"]["macs"], reps_b[0]["model"]["macs"]]
        args.n = n
        analyse(args, reps_a, reps_b, macs, time.time())
        return
    extra = ["--threads", str(args.threads), "--target", args.target, *args.bench_args.split()]
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        keep = Path(args.keep) if args.keep else tmp
        keep.mkdir(parents=True, exist_ok=True)
        a = convert_one(args.model, args.size, tmp / "a")
        b = convert_one(args.model, args.control_size, tmp / "b")
        from edgefer.convert.manifest import read_manifest

        macs = [read_manifest(str(tmp / d))["model"]["macs"] for d in ("a", "b")]
        reps_a, reps_b = [], []
        for i in range(args.n):
            reps_a.append(bench_cli(a, keep / f"a{i}.json", extra))
            reps_b.append(bench_cli(b, keep / f"b{i}.json", extra))
            print(f"bench {i + 1}/{args.n} done ({time.time() - t0:.0f} s)", file=sys.stderr)
    analyse(args, reps_a, reps_b, macs, t0)


def analyse(args, reps_a: list[dict], reps_b: list[dict], macs: list[int], t0: float) -> None:
    s = reps_a[0]["settings"]
    print(f"# A/A test: {args.model} ONNX fp32 {args.size}x{args.size} vs {args.control_size}x{args.control_size} "
          f"(x{macs[1] / macs[0]:.3f} MACs), {args.n} benches each, bench defaults: repeat {s['repeat']}, "
          f"runs {s['runs']}, warmup {s['warmup']}, min {s['min_seconds']} s, threads {args.threads}\n")
    print("| bench | A p50 ms | A between-repeat CV | B p50 ms | B between-repeat CV |")
    print("|---|---|---|---|---|")
    for i, (ra, rb) in enumerate(zip(reps_a, reps_b)):
        ba, bb = ra["statistics"]["between_repeats"], rb["statistics"]["between_repeats"]
        print(f"| {i + 1} | {ba['mean_p50_ms']:.3f} | {ba['cv']:.1%} | {bb['mean_p50_ms']:.3f} | {bb['cv']:.1%} |")
    p50a = np.array([r["statistics"]["between_repeats"]["mean_p50_ms"] for r in reps_a])
    print(f"\nspread of A's p50 across benches: {(p50a.max() - p50a.min()) / p50a.min():.1%} "
          f"(CV {p50a.std(ddof=1) / p50a.mean():.1%}: the between-session drift a target profile can "
          f"state as bench.session_cv; these reports used session_cv="
          f"{reps_a[0]['statistics']['between_repeats'].get('session_cv')})")
    aa = list(itertools.combinations(range(args.n), 2))
    ab = list(itertools.product(range(args.n), range(args.n)))
    print("\n| statistics | false alarms (A/A pairs failing the 5% gate) | detected (A/B pairs flagged) |")
    print("|---|---|---|")
    for name, pooled in (("repeats, two-level bootstrap (0.2)", False), ("pooled samples, within-run (0.1.0)", True)):
        fa = sum(gate(reps_a[i], reps_a[j], pooled) or gate(reps_a[j], reps_a[i], pooled) for i, j in aa)
        det = sum(gate(reps_a[i], reps_b[j], pooled) for i, j in ab)
        print(f"| {name} | {fa}/{len(aa)} = {fa / len(aa):.0%} | {det}/{len(ab)} = {det / len(ab):.0%} |")
    print(f"\n(an A/A pair counts as a false alarm if the gate fails in either direction; wall {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
