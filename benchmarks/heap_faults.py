"""Minor page faults and time per frame-sized step, with glibc's default heap and with the heap the pipeline runner keeps.

    python benchmarks/heap_faults.py [--iterations 200]

Each case runs in a fresh interpreter (the setting is for a process's life), once with the
default heap and once after edgefer.runner.pipeline.heap.keep_heap(), side by side: a loop of
224x224x3 float arrays (a crop tensor's size), the numpy path's crop resize (103x103 RGB -> 224x224)
and its letterbox (512x512 RGB -> 128x128). Printed: faults and median microseconds per call.
This is what docs/pipeline.md ("Heap") and edgefer/runner/pipeline/heap.py quote.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import resource, statistics, sys, time
import numpy as np
from edgefer.runner.pipeline import imaging
from edgefer.runner.pipeline.heap import keep_heap
said = keep_heap() if sys.argv[1] == "kept" else "default"
rng = np.random.default_rng(0)
crop = rng.integers(0, 256, (103, 103, 3), dtype=np.uint8)
frame = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
steps = {
    "224x224x3 float array, allocated and freed": lambda: float((np.ones((224, 224, 3), np.float32) * 2)[0, 0, 0]),
    "numpy crop resize 103->224 RGB": lambda: imaging.resize(crop, 224, 224, "numpy"),
    "numpy letterbox 512->128": lambda: imaging.resize(frame, 128, 128, "numpy", antialias=False),
}
n = int(sys.argv[2])
for name, fn in steps.items():
    for _ in range(5):
        fn()
    times = []
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n
    print(f"{name}\t{faults:.0f}\t{statistics.median(times) / 1e3:.0f}")
print(f"heap\t{said}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=200)
    a = ap.parse_args()
    rows: dict[str, dict[str, tuple[str, str]]] = {}
    for mode in ("default", "kept"):
        out = subprocess.run([sys.executable, "-c", CHILD, mode, str(a.iterations)], capture_output=True, text=True,
                             check=True).stdout
        for line in out.strip().splitlines():
            name, *vals = line.split("\t")
            rows.setdefault(name, {})[mode] = tuple(vals) if len(vals) == 2 else (vals[0], "")
    print(f"kept heap: {rows.pop('heap')['kept'][0]}")
    print(f"{'step':<45} {'faults default':>14} {'faults kept':>12} {'us default':>11} {'us kept':>8}")
    for name, r in rows.items():
        print(f"{name:<45} {r['default'][0]:>14} {r['kept'][0]:>12} {r['default'][1]:>11} {r['kept'][1]:>8}")


if __name__ == "__main__":
    main()
