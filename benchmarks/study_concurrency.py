"""Does one worker per board pay? The same study over two labgrid places, run concurrently
(one worker per place) and place after place, wall times side by side.

    python benchmarks/study_concurrency.py [--board emulated|loopback] [--models mobilenet_v1,mobilenet_skip]
                                           [--repeats 2] [--runs 10] [--pairs 1] [--json OUT.json]

Everything is real and started here on loopback: two OpenSSH servers (the two "boards"), a
labgrid-coordinator and a labgrid-exporter whose NetworkService resources point at them, two
places. `--board emulated` (default when the QEMU board is built) runs the runner under
qemu-aarch64 like targets/qemu-aarch64.yaml; `loopback` runs it natively over SSH. Models are
converted (ONNX fp32) before the clock starts, so only deploy + bench + place handling is timed.
The two modes alternate `--pairs` times (serial first, then concurrent, ...), each with an empty
cache. Target: concurrent <= 0.7 x serial. Both boards share this machine's CPUs: on a loaded
machine the concurrent run cannot get its second core and the ratio says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the loopback lab helpers the tests use

from _deploy_helpers import qemu_missing, ssh_missing  # noqa: E402
from _labgrid_helpers import labgrid_missing, loopback_lab  # noqa: E402

TARGET_RATIO = 0.7


def base_profile(path: Path, board: str, key: Path, known_hosts: Path) -> Path:
    from edgefer.targets import load_target

    path.parent.mkdir(parents=True, exist_ok=True)
    base = load_target("qemu-aarch64" if board == "emulated" else "local").model_dump(mode="json")
    base.update({"name": f"lab-{board}", "connection": {"type": "ssh", "host": "placeholder", "key": str(key),
                                                       "known_hosts": str(known_hosts)},
                 "workdir": str(path.parent / "work")})
    if board != "emulated":
        base["python"] = [sys.executable]
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", choices=("emulated", "loopback"), default=None)
    ap.add_argument("--models", default="mobilenet_v1,mobilenet_skip")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    board = args.board or ("emulated" if qemu_missing() is None else "loopback")
    why = labgrid_missing() or ssh_missing() or (qemu_missing() if board == "emulated" else None)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    from edgefer.convert import ConvertOptions, convert
    from edgefer.study import run_study

    tmp = Path(tempfile.mkdtemp(prefix="edgefer-study-concurrency-"))
    with loopback_lab(tmp, ["board-a", "board-b"]) as (lab, key, kh):
        models = []
        for name in args.models.split(","):
            d = tmp / "artifacts" / name
            res = convert(ConvertOptions(model=name, out=d, formats=("onnx",), precisions=("fp32",), verify=False))
            models.append({"artifact": str(d / res.manifest["artifacts"][0]["file"]), "label": name})
        walls: dict[str, list[float]] = {"serial": [], "concurrent": []}
        for i in range(args.pairs):
            for mode in ("serial", "concurrent"):
                # a fresh work dir per run: both modes pay the first deploy (copy + probe) alike
                prof = base_profile(tmp / f"run-{mode}-{i}" / "board.yaml", board, key, kh)
                spec = {"models": models, "formats": ["onnx"],
                        "targets": [{"profile": str(prof), "coordinator": lab.address, "place": p}
                                    for p in ("board-a", "board-b")],
                        "bench": {"repeats": args.repeats, "runs": args.runs, "warmup": 1, "min_seconds": 0,
                                  "threads": 1, "energy": "none"}}
                path = tmp / f"run-{mode}-{i}" / "study.yaml"
                path.write_text(yaml.safe_dump(spec))
                t0 = time.monotonic()
                run = run_study(path, out=str(tmp / f"out-{mode}-{i}"), use_cache=False, plot=False,
                                concurrent=mode == "concurrent")
                walls[mode].append(time.monotonic() - t0)
                if run.failed:
                    print(f"error: {mode}: {run.failed[0].error}", file=sys.stderr)
                    return 1
        from rich.console import Console
        from rich.table import Table

        n_cells = len(run.cells)
        t = Table(title=f"one study, two labgrid places ({board} board), {n_cells} cells x {args.repeats} repeats")
        for col in ("mode", "wall s (each pair)", "median s"):
            t.add_column(col, justify="left" if col == "mode" else "right")
        med = {m: sorted(v)[len(v) // 2] for m, v in walls.items()}
        for mode in ("serial", "concurrent"):
            t.add_row(mode, " ".join(f"{w:.1f}" for w in walls[mode]), f"{med[mode]:.1f}")
        Console().print(t)
        ratio = med["concurrent"] / med["serial"]
        verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
        print(f"concurrent / serial = {ratio:.2f} (target <= {TARGET_RATIO}): {verdict}")
        if args.json:
            Path(args.json).write_text(json.dumps({"board": board, "walls_s": walls, "ratio": ratio,
                                                   "cells": n_cells, "repeats": args.repeats}, indent=2))
        return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
