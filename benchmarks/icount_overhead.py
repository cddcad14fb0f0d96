"""What counting instructions costs on the emulated board: the same bench with and without the plugin.

    python benchmarks/icount_overhead.py [--model mobilenet_v1] [--cpu cortex-a72] [--precision fp32,int8]
                                         [--runs 20] [--warmup 2] [--repeats 3] [--json OUT.json]

The board is $EDGEFER_QEMU_DIR (default ~/.cache/edgefer/qemu-aarch64), built with instruction
counting by cross/setup-qemu-aarch64.sh. Each artifact (converted here, ONNX, for the CPU view's
profile) is benched by the device-side runner under four set-ups, in turn, `--repeats` times:
  plain          python-<cpu>: the static qemu-aarch64-static, no plugin (the board's usual wrapper)
  dynamic qemu, no plugin   the counting wrapper's emulator and settings, without the plugin
  counting (tb)  python-<cpu>-icount: dynamic qemu-aarch64 + edgefer-icount, one inline add per block
  counting (insn) the same with EDGEFER_ICOUNT_MODE=insn, one inline add per instruction
and the script prints, per configuration, the median over repeats of the emulated p50 ms per
inference, of the runner process's wall time and of its CPU time (user + system: what a busy host
inflates least), each as a ratio to plain (the goal: <= 1.5x for
the default tb mode). Emulated timings: they compare emulators, they say nothing about a board.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.5
PROFILES = {"cortex-a72": "qemu-aarch64", "cortex-a76": "qemu-aarch64-a76"}


def _configs(board: Path, cpu: str) -> dict[str, tuple[list[str], dict[str, str], bool]]:
    icount = [str(board / f"python-{cpu}-icount")]
    # the counting wrapper's emulator and settings without the plugin: what the binary costs by itself
    dynamic = ["setarch", os.uname().machine, "-R", shutil.which("qemu-aarch64") or "qemu-aarch64",
               str(board / "sysroot/usr/bin/python3.11")]
    dynamic_env = {"QEMU_LD_PREFIX": str(board / f"root-{cpu}"), "QEMU_CPU": cpu, "PYTHONNOUSERSITE": "1",
                   "EDGEFER_EMULATED": f"qemu-aarch64 ({cpu})", "PYTHONPATH": f"{ROOT}:{board / 'site'}",
                   "ORT_DISABLE_TELEMETRY": "1", "OPENBLAS_NUM_THREADS": "1"}
    return {"plain": ([str(board / f"python-{cpu}")], {}, False),
            "dynamic qemu, no plugin": (dynamic, dynamic_env, False),
            "counting (tb)": (icount, {"EDGEFER_ICOUNT_MODE": "tb"}, True),
            "counting (insn)": (icount, {"EDGEFER_ICOUNT_MODE": "insn"}, True)}


def bench_once(python: list[str], env: dict[str, str], count: bool, artifact: Path, out: Path, args) -> dict:
    cmd = [*python, "-m", "edgefer.runner", "bench", str(artifact), "--out", str(out), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--threads", "1", "--energy", "none", "--idle-seconds", "0"]
    if count:
        cmd.append("--count-instructions")
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0", **env}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=full_env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()[-500:]}")
    rep = json.loads(out.read_text())
    return {"wall_s": wall, "cpu_s": cpu, "p50_ms": rep["statistics"]["per_sample_p50_ms"],
            "instructions": (rep.get("instructions") or {}).get("per_inference")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="mobilenet_v1")
    ap.add_argument("--cpu", default="cortex-a72", choices=sorted(PROFILES))
    ap.add_argument("--precision", default="fp32,int8")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the rows as JSON")
    args = ap.parse_args()
    board = Path(os.environ.get("EDGEFER_QEMU_DIR", Path.home() / ".cache/edgefer/qemu-aarch64"))
    if not (board / f"python-{args.cpu}-icount").exists() or not (board / "icount/libedgefer-icount.so").exists():
        sys.exit(f"error: no instruction counting on the board {board}: run bash .ci/setup-board.sh")

    from edgefer.convert import ConvertOptions, convert

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        conv = Path(tmp) / args.model
        convert(ConvertOptions(model=args.model, out=conv, formats=("onnx",),
                               precisions=tuple(args.precision.split(",")), target=PROFILES[args.cpu],
                               calib_samples=16), check=False)
        configs = _configs(board, args.cpu)
        for art in sorted(conv.glob("*.onnx")):
            runs: dict[str, list[dict]] = {name: [] for name in configs}
            for rep in range(args.repeats):  # interleaved: a load change on the host hits every configuration
                for name, (python, env, count) in configs.items():
                    runs[name].append(bench_once(python, env, count, art, Path(tmp) / "r.json", args))
            med = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "p50_ms")}
                   for name, rs in runs.items()}
            for name, rs in runs.items():
                rows.append({"artifact": art.name, "cpu": args.cpu, "config": name,
                             "p50_ms": med[name]["p50_ms"], "wall_s": med[name]["wall_s"],
                             "cpu_s": med[name]["cpu_s"], "cpu_ratio": med[name]["cpu_s"] / med["plain"]["cpu_s"],
                             "p50_ratio": med[name]["p50_ms"] / med["plain"]["p50_ms"],
                             "wall_ratio": med[name]["wall_s"] / med["plain"]["wall_s"],
                             "instructions_per_inference": rs[-1]["instructions"], "repeats": args.repeats})
    t = Table(title=f"instruction-counting overhead, {args.model} on the emulated {args.cpu} "
                    f"({args.runs} runs, {args.warmup} warm-up, median of {args.repeats}; EMULATED timings)")
    for col in ("artifact", "config", "p50 ms/inf", "x plain", "process s", "x plain", "process CPU s", "x plain",
                "instructions/inf"):
        t.add_column(col, justify="left" if col in ("artifact", "config") else "right")
    for r in rows:
        ins = r["instructions_per_inference"]
        t.add_row(r["artifact"], r["config"], f"{r['p50_ms']:.1f}", f"{r['p50_ratio']:.2f}", f"{r['wall_s']:.1f}",
                  f"{r['wall_ratio']:.2f}", f"{r['cpu_s']:.1f}", f"{r['cpu_ratio']:.2f}", f"{ins:,.0f}" if ins else "—")
    Console(width=160).print(t)
    tb = [r for r in rows if r["config"] == "counting (tb)"]
    print(f"counting (tb) vs plain, worst artifact: p50 x{max(r['p50_ratio'] for r in tb):.2f}, process wall "
          f"x{max(r['wall_ratio'] for r in tb):.2f}, process CPU time x{max(r['cpu_ratio'] for r in tb):.2f} "
          f"(goal <= x{GOAL}; on a shared machine trust the CPU time)")
    if args.json:
        from edgefer.runner.files import write_json_atomic

        write_json_atomic(args.json, {"rows": rows, "goal_ratio": GOAL, "command": " ".join(sys.argv)})


if __name__ == "__main__":
    main()
