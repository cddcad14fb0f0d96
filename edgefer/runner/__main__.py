"""`python -m edgefer.runner probe|bench|infer`: the device-side CLI (contract in docs/ARCHITECTURE.md).

Plain argparse (no typer/rich on the device). Exit 0 ok, 2 user error ("error: ..." on one line),
1 partial report (interrupted or crashed mid-run; the samples so far are in --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from edgefer.errors import EdgeferError


def _probe() -> dict[str, Any]:
    from edgefer.runner import envinfo

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "numpy": envinfo.module_version("numpy"),
        "runtimes": {m.replace("-", "_"): envinfo.module_version(m) for m in ("onnxruntime", "ai-edge-litert", "tflite-runtime")},
        "psutil": envinfo.module_version("psutil"),
        "emulated": envinfo.emulation()[0],
    }


def _jsonl_progress(phase: str, done: int, total: int) -> None:
    sys.stderr.write(json.dumps({"event": "progress", "done": done, "total": total, "phase": phase}) + "\n")
    sys.stderr.flush()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgefer.runner", description="edgefer device-side runner")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("probe", help="print python/numpy/runtime versions as JSON")
    b = sub.add_parser("bench", help="benchmark an .onnx/.tflite file and write a report")
    b.add_argument("artifact")
    b.add_argument("--out", required=True)
    b.add_argument("--runs", type=int, default=100)
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--min-seconds", type=float, default=0.0)
    b.add_argument("--batch-size", type=int, default=1)
    b.add_argument("--threads", type=int)
    b.add_argument("--cpus", help="pin to these CPUs, e.g. 0,1 or 2-3")
    b.add_argument("--cooldown", type=float, default=0.0, help="seconds to sleep before measuring")
    b.add_argument("--runtime", help="onnxruntime|litert (default: from the extension)")
    b.add_argument("--providers", help="onnxruntime providers, comma-separated")
    b.add_argument("--xnnpack", action=argparse.BooleanOptionalAction, default=None)
    b.add_argument("--input-shape", help="shape for dynamic inputs, e.g. 1,1,48,48")
    b.add_argument("--precision", help="fp32|int8 (recorded in the report)")
    b.add_argument("--energy", default="auto", help="auto|none|estimate|<meter spec JSON>")
    b.add_argument("--nominal-power-w", type=float)
    b.add_argument("--energy-rate-hz", type=float)
    b.add_argument("--idle-seconds", type=float, default=2.0)
    b.add_argument("--target-json", help="target summary to embed in the report")
    b.add_argument("--progress", choices=["jsonl", "none"], default="none")
    b.add_argument("--count-instructions", action="store_true", help="guest instruction counts (emulated board's icount wrapper)")
    i = sub.add_parser("infer", help="run a float32 NCHW .npy batch through the artifact, save float32 logits")
    i.add_argument("artifact")
    i.add_argument("--inputs", required=True)
    i.add_argument("--out", required=True)
    i.add_argument("--runtime")
    i.add_argument("--threads", type=int)
    return p


def _bench(a: argparse.Namespace) -> int:
    from edgefer.runner.files import write_json_atomic
    from edgefer.runner.options import parse_cpus, parse_shape
    from edgefer.runner.session import run_bench

    target = None
    if a.target_json:
        try:
            target = json.loads(a.target_json)
        except json.JSONDecodeError as exc:
            raise EdgeferError(f"--target-json is not valid JSON: {exc}")
    report = run_bench(
        a.artifact, runtime=a.runtime, runs=a.runs, warmup=a.warmup, min_seconds=a.min_seconds,
        batch_size=a.batch_size, threads=a.threads, cpus=parse_cpus(a.cpus), cooldown_s=a.cooldown,
        providers=a.providers.split(",") if a.providers else None, xnnpack=a.xnnpack,
        input_shape=parse_shape(a.input_shape), energy=a.energy, nominal_power_w=a.nominal_power_w,
        energy_rate_hz=a.energy_rate_hz, idle_s=a.idle_seconds, precision=a.precision, target=target,
        on_progress=_jsonl_progress if a.progress == "jsonl" else None, count_instructions=a.count_instructions,
    )
    write_json_atomic(a.out, report)
    return 1 if report["partial"] else 0


def _infer(a: argparse.Namespace) -> int:
    import numpy as np

    from edgefer.runner.runtimes import open_runtime

    try:
        x = np.load(a.inputs)
    except (OSError, ValueError) as exc:
        raise EdgeferError(f"cannot read inputs {a.inputs}: {exc}")
    y = open_runtime(a.artifact, a.runtime, a.threads).predict(x)
    np.save(a.out, y.astype(np.float32))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from edgefer.runner.options import interrupt_on_sigterm

    interrupt_on_sigterm()
    try:
        if args.cmd == "probe":
            print(json.dumps(_probe()))
            return 0
        return _bench(args) if args.cmd == "bench" else _infer(args)
    except EdgeferError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted before timing started", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
