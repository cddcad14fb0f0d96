"""Run the runner on a deployed device: `bench_remote` (reports) and `infer_remote` (parity)."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgefer.deploy.deployment import Deployment, deploy
from edgefer.deploy.shell import join_path
from edgefer.errors import EdgeferError
from edgefer.targets import Target, load_target


def _fetch_json(dep: Deployment, rel: str, step: str) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "report.json"
        if not dep.transport.get_file(dep.transport.resolve(join_path(dep.workdir, rel)), local, step=step):
            return None
        try:
            return json.loads(local.read_text())
        except ValueError:
            return None  # a report cut short while being written is no report


def runner_event_router(on_progress: Callable[[dict], None] | None) -> Callable[[str], None]:
    """stderr lines that are runner JSON events go to on_progress; the rest stay as context."""

    def route(line: str) -> None:
        if on_progress is None or not line.startswith("{"):
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        if isinstance(event, dict) and "event" in event:
            on_progress(event)

    return route


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


def run_remote_repeat(dep: Deployment, settings, index: int, on_progress: Callable[[dict], None] | None,
                      extra: list[str] | None = None) -> dict:
    """One repeat (a fresh runner process on the device) with these BenchSettings (+ extra flags)."""
    return run_runner_bench(dep, ["--repeat-index", str(index), *settings.to_argv(), *(extra or [])], on_progress)


def run_runner_bench(dep: Deployment, runner_args: list[str], on_progress: Callable[[dict], None] | None) -> dict:
    """Run the runner's bench on a deployed device and fetch its report.

    --out, --progress, --pid-file and --target-json are added here. A failed run whose report
    exists on the device (partial: interrupted, crashed, disconnected) returns that report with
    partial=True and partial_reason saying what happened; a failed run without one raises
    EdgeferError. Ctrl-C/SIGTERM on the host stops the runner on the device through its pid
    file; it writes its partial report, which is fetched and returned (partial=True)."""
    t = dep.target
    report_rel = f"reports/{Path(dep.artifact).stem}-{uuid.uuid4().hex[:12]}.json"
    pid_rel = report_rel + ".pid"
    args = ["bench", dep.artifact, "--out", report_rel, "--progress", "jsonl", "--pid-file", pid_rel]
    if "--target-json" not in runner_args:
        args += ["--target-json", json.dumps(t.summary(), separators=(",", ":"))]

    def stop_on_device() -> None:
        # SIGINT takes the runner's Ctrl-C path: it stops timing and writes the partial report
        dep.transport.run(["sh", "-c", 'p=$(cat -- "$1" 2>/dev/null) && kill -INT "$p" 2>/dev/null; exit 0',
                           "sh", pid_rel], step="stop the run", cwd=dep.workdir, check=False)

    failure: EdgeferError | None = None
    interrupted = False
    try:
        res = dep.run_runner(*args, *runner_args, step="bench", on_stderr_line=runner_event_router(on_progress),
                             check=False, on_interrupt=stop_on_device)
        interrupted = res.interrupted
        if res.rc not in (0, 1) and not interrupted:  # 1 = partial report written, by the runner contract
            failure = dep.transport.command_failed(res, "bench", dep.runner_argv())
    except EdgeferError as exc:  # disconnect and other transport failures mid-run
        failure = exc
    try:
        report = _fetch_json(dep, report_rel, step="fetch report")
    except EdgeferError:
        if failure is not None:
            raise failure from None
        raise
    if report is None:
        if interrupted:
            raise KeyboardInterrupt
        raise failure or dep.transport.fail("fetch report", f"the runner wrote no report at {report_rel}")
    if interrupted:
        report["partial"] = True
        report["partial_reason"] = f"{report.get('partial_reason') or 'interrupted'} (stopped on the host by Ctrl-C/SIGTERM)"
    elif failure is not None and not report.get("partial"):
        report["partial"] = True
        report["partial_reason"] = failure.one_line()
    elif failure is not None:
        report["partial_reason"] = f"{report.get('partial_reason') or 'partial'}; then {failure.one_line()}"
    if failure is not None or interrupted:
        for rec in report.get("repeats") or []:
            rec["partial"], rec["partial_reason"] = True, report["partial_reason"]
    return report


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
