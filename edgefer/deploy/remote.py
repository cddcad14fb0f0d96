"""Run the runner on a deployed device: `bench_remote` (reports) and `infer_remote` (parity)."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgefer.deploy.deployment import Deployment, deploy
from edgefer.deploy.runner_process import run_on_device
from edgefer.deploy.shell import join_path
from edgefer.targets import Target, load_target


def bench_remote(
    artifact: Path,
    target: Target | str,
    runner_args: list[str],
    on_progress: Callable[[dict], None] | None = None,
) -> dict:
    """Deploy if needed, run one `python -m edgefer.runner bench` on the device, return its report.

    runner_args are the runner's bench options (--runs, --threads, ...). See `run_runner_bench`."""
    t = load_target(target)
    dep = deploy(artifact, t)
    return run_runner_bench(dep, runner_args, on_progress)


def run_runner_bench(dep: Deployment, runner_args: list[str], on_progress: Callable[[dict], None] | None) -> dict:
    """Run the runner's bench on a deployed device and fetch its report, by the protocol of
    edgefer.deploy.runner_process (--out, --pid-file, --progress added; --target-json unless given).

    A failed run whose report exists on the device (partial: interrupted, crashed, disconnected)
    returns that report with partial=True and partial_reason saying what happened; a failed run
    without one raises EdgeferError. Ctrl-C/SIGTERM on the host stops the runner on the device
    through its pid file; it writes its partial report, which is fetched and returned (partial=True)."""
    target_json = [] if "--target-json" in runner_args else [
        "--target-json", json.dumps(dep.target.summary(), separators=(",", ":"))]
    return run_on_device(dep, ["edgefer.runner", "bench", dep.artifact, *target_json, *runner_args], "bench",
                         on_progress)


def infer_remote(artifact: Path, target: Target | str, x: np.ndarray) -> np.ndarray:
    """Run a float32 NCHW batch through the artifact on the device; returns float32 logits."""
    t = load_target(target)
    dep = deploy(artifact, t)
    tag = uuid.uuid4().hex[:12]
    inputs_rel, outputs_rel = f"io/{tag}-x.npy", f"io/{tag}-y.npy"
    with tempfile.TemporaryDirectory() as tmp:
        x_path = Path(tmp) / "x.npy"
        np.save(x_path, np.ascontiguousarray(x, dtype=np.float32))
        dep.transport.put_files([(x_path, inputs_rel)], dep.transport.resolve(dep.workdir), step="copy inputs")
        try:
            dep.run_runner("infer", dep.artifact, "--inputs", inputs_rel, "--out", outputs_rel, step="infer")
            y_path = Path(tmp) / "y.npy"
            if not dep.transport.get_file(dep.transport.resolve(join_path(dep.workdir, outputs_rel)), y_path,
                                          step="fetch outputs"):
                raise dep.transport.fail("fetch outputs", f"the runner wrote no outputs at {outputs_rel}")
            return np.load(y_path)
        finally:
            dep.transport.run(["rm", "-f", "--", inputs_rel, outputs_rel], step="clean up", cwd=dep.workdir, check=False)
