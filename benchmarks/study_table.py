"""The measured study table of docs/study.md: examples/study/study.yaml (your own model + two
zoo baselines; torch/onnx/tflite, fp32/int8) on this machine and on the emulated aarch64 board
reached through a labgrid place.

    python benchmarks/study_table.py [--out study-out] [--repeats 3] [--runs 20]

Starts a real lab on loopback (an OpenSSH server for the emulated board, labgrid-coordinator,
labgrid-exporter exporting its NetworkService, place `qemu-1` tagged board=qemu-a72), then runs
`edgefer study examples/study/study.yaml` with LG_COORDINATOR / EDGEFER_LAB_KEY /
EDGEFER_LAB_KNOWN_HOSTS pointing at it, and prints OUT/table.md. Targets run one after the
other (bench.concurrent: false): both share this machine's CPU. Emulated timings describe QEMU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from _deploy_helpers import qemu_missing, ssh_missing  # noqa: E402
from _labgrid_helpers import labgrid_missing, loopback_lab  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="study-out")
    ap.add_argument("--repeats", type=int, default=None, help="override the spec's bench.repeats")
    ap.add_argument("--runs", type=int, default=None, help="override the spec's bench.runs")
    args = ap.parse_args()
    why = labgrid_missing() or ssh_missing() or qemu_missing()
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="edgefer-study-table-"))
    with loopback_lab(tmp, ["qemu-1"], tags={"board": "qemu-a72"}) as (lab, key, kh):
        spec = REPO / "examples/study/study.yaml"
        if args.repeats or args.runs:
            data = yaml.safe_load(spec.read_text())
            data["bench"].update({k: v for k, v in (("repeats", args.repeats), ("runs", args.runs)) if v})
            for m in data["models"]:
                if "module" in m:
                    m["module"] = str(REPO / "examples/study" / m["module"])
            data["targets"] = ["local" if t == "local" else str(REPO / "examples/study" / t) for t in data["targets"]]
            spec = tmp / "study.yaml"
            spec.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {**os.environ, "LG_COORDINATOR": lab.address, "EDGEFER_LAB_KEY": str(key),
               "EDGEFER_LAB_KNOWN_HOSTS": str(kh), "PYTHONPATH": str(REPO)}
        res = subprocess.run([sys.executable, "-m", "edgefer", "study", str(spec), "--out", args.out], env=env)
        table = Path(args.out) / "table.md"
        if table.is_file():
            print(table.read_text())
        return res.returncode


if __name__ == "__main__":
    sys.exit(main())
