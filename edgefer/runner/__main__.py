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
    try:
        sys.stderr.write(json.dumps({"event": "progress", "done": done, "total": total, "phase": phase}) + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        pass  # the host went away: keep measuring, the report is still written


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edgefer.runner", description="edgefer device-side runner")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("probe", help="print python/numpy/runtime versions as JSON")
    b = sub.add_parser("bench", help="benchmark an .onnx/.tflite file and write a report")
    b.add_argument("artifact")
    b.add_argument("--out", required=True)
    _add_setting_flags(b)
    b.add_argument("--target-json", help="target summary to embed in the report")
    b.add_argument("--progress", choices=["jsonl", "none"], default="none")
    b.add_argument("--pid-file", help="write this process's pid here (the host stops a run through it)")
    lk = sub.add_parser("lock", help="hold the board lock until stdin closes (one benchmark per board)")
    lk.add_argument("--holder", default="", help="JSON describing who holds it")
    lk.add_argument("--timeout", type=float, default=600.0)
    i = sub.add_parser("infer", help="run a float32 NCHW .npy batch through the artifact, save float32 logits")
    i.add_argument("artifact")
    i.add_argument("--inputs", required=True)
    i.add_argument("--out", required=True)
    i.add_argument("--runtime")
    i.add_argument("--threads", type=int)
    return p


def _add_setting_flags(b: argparse.ArgumentParser) -> None:
    """The flags of BenchSettings.to_argv(); their defaults are the struct's (edgefer.runner.settings)."""
    from edgefer.runner.settings import BenchSettings

    d = BenchSettings.default
    b.add_argument("--runs", type=int, default=d("runs"))
    b.add_argument("--warmup", type=int, default=d("warmup"))
    b.add_argument("--min-seconds", type=float, default=d("min_seconds"))
    b.add_argument("--batch-size", type=int, default=d("batch_size"))
    b.add_argument("--threads", type=int, default=d("threads"))
    b.add_argument("--cpus", help="pin to these CPUs, e.g. 0,1 or 2-3")
    b.add_argument("--cooldown", type=float, default=d("cooldown_s"),
                   help="seconds to sleep before measuring")
    b.add_argument("--runtime", help="onnxruntime|litert (default: from the extension)")
    b.add_argument("--providers", help="onnxruntime providers, comma-separated")
    b.add_argument("--xnnpack", action=argparse.BooleanOptionalAction, default=d("xnnpack"))
    b.add_argument("--input-shape", help="shape for dynamic inputs, e.g. 1,1,48,48")
    b.add_argument("--precision", help="fp32|int8|fp16 (recorded in the report)")
    b.add_argument("--accel-json", help='accelerator options, e.g. {"accelerator": "gpu", "allow_fallback": true}')
    b.add_argument("--energy", default=d("energy"), help="auto|measure|none|estimate|<meter spec JSON>")
    b.add_argument("--nominal-power-w", type=float, default=d("nominal_power_w"))
    b.add_argument("--energy-rate-hz", type=float, default=d("energy_rate_hz"))
    b.add_argument("--idle-seconds", type=float, default=d("idle_s"))
    b.add_argument("--op-profile", type=int, default=d("op_profile"), metavar="N",
                   help="after timing, N profiled runs -> op_profile")
    b.add_argument("--count-instructions", action="store_true", default=d("count_instructions"),
                   help="guest instruction counts (emulated board's icount wrapper)")
    b.add_argument("--repeat-index", type=int, default=d("repeat_index"),
                   help="which repeat this process is (recorded)")


def _bench(a: argparse.Namespace) -> int:
    from edgefer.runner.files import pid_file, write_json_atomic
    from edgefer.runner.session import run_bench
    from edgefer.runner.settings import BenchSettings

    target = None
    if a.target_json:
        try:
            target = json.loads(a.target_json)
        except json.JSONDecodeError as exc:
            raise EdgeferError(f"--target-json is not valid JSON: {exc}")
    s = BenchSettings.from_namespace(a).validate()
    with pid_file(a.pid_file):  # --runtime names a runtime of edgefer.runner.runtimes.RUNTIMES
        report = run_bench(a.artifact, s, target=target,
                           on_progress=_jsonl_progress if a.progress == "jsonl" else None)
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pipeline"]:  # the FER pipeline has its own runner CLI (edgefer.runner.pipeline)
        from edgefer.runner.pipeline.__main__ import main as pipeline_main

        return pipeline_main(argv[1:])
    args = _parser().parse_args(argv)
    from edgefer.runner.options import print_json, run_command

    commands = {"probe": lambda: print_json(_probe()), "lock": lambda: _lock(args), "bench": lambda: _bench(args),
                "infer": lambda: _infer(args)}
    return run_command(commands[args.cmd], "before timing started")


def _lock(args: argparse.Namespace) -> int:
    from edgefer.runner.lock import hold_until_eof

    return hold_until_eof(args.holder, args.timeout)

if __name__ == "__main__":
    sys.exit(main())
