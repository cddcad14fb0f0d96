"""One runner process, on this machine or on a deployed board: the protocol bench and pipeline share.

A run is `python -m MODULE ARGS --out REPORT [--pid-file PID] [--progress jsonl]`, one process per
repeat (`edgefer.runner bench ...` or `edgefer.runner.pipeline run ...`):
- start: here a child of this interpreter (edgefer importable through PYTHONPATH), on a board a
  command through its transport in the deployment's work dir;
- events: the JSON lines it prints on stderr go to `on_event` as they arrive; the other lines are
  kept for the error message;
- stop: Ctrl-C/SIGTERM on the host becomes SIGINT for the runner, which takes its own Ctrl-C path
  and writes what it measured (here sent to the child; on a board `kill -INT` through its pid file);
- fetch: its report, also a partial one (interrupted, crashed, disconnected), is read back, marked
  partial with the reason, and the files on the board are removed;
- no report: KeyboardInterrupt when it was stopped here before measuring, else a one-line error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import edgefer
from edgefer.errors import EdgeferError

if TYPE_CHECKING:
    from edgefer.deploy.deployment import Deployment

EventFn = Callable[[dict], None]
STOP_TIMEOUT_S = 120  # after an interrupt, how long the runner gets to write its partial report
STOPPED = "stopped on the host by Ctrl-C/SIGTERM"  # why a run a user stopped here is partial
_PACKAGE_PARENT = str(Path(edgefer.__file__).resolve().parent.parent)
# SIGINT to the pid in the file $1, if the runner still runs (the file goes when it exits)
_STOP_SCRIPT = 'p=$(cat -- "$1" 2>/dev/null) && kill -INT "$p" 2>/dev/null; exit 0'


def route_events(on_event: EventFn | None, tail: list[str] | None = None) -> Callable[[str], None]:
    """Runner stderr lines: JSON events go to on_event, the rest are kept in `tail` (last 20) for errors."""

    def route(line: str) -> None:
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and "event" in event:
                if on_event is not None:
                    on_event(event)
                return
        if tail is not None:
            tail.append(line)
            del tail[:-20]

    return route


def runner_error(tail: list[str], rc: int) -> str:
    """The runner's own 'error: ...' line, else its last stderr line, else its exit status."""
    for line in reversed(tail):
        if line.startswith("error:"):
            return line[len("error:"):].strip()
    return tail[-1] if tail else f"exit status {rc}"


def _flags(out: str, pid_file: str | None, on_event: EventFn | None) -> list[str]:
    # progress events only when someone listens: the pipeline's loop checks for them every frame
    return ["--out", out, *(["--pid-file", pid_file] if pid_file else []),
            *(["--progress", "jsonl"] if on_event is not None else [])]


def run_here(module_args: list[str], step: str, on_event: EventFn | None) -> dict:
    """The runner as a child process of this interpreter (memory, threads and CPU figures are then
    the model's, not those of the edgefer process) -> its report (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix=f"edgefer-{step}-") as tmp:
        out = os.path.join(tmp, "report.json")
        rc, tail, interrupted = _run_child([sys.executable, "-m", *module_args, *_flags(out, None, on_event)],
                                           on_event)
        report = _read_json(out)
    failure = None
    # exit 1: a partial report was written, by the runner contract
    if not interrupted and (rc not in (0, 1) or report is None):
        # exit 2 is the runner's user error: its one line is the message
        failure = EdgeferError(runner_error(tail, rc) if rc == 2 else
                               f"the {step} runner failed (exit {rc}): {runner_error(tail, rc)}")
    return finish_run(report, interrupted, failure)


def _run_child(argv: list[str], on_event: EventFn | None) -> tuple[int, list[str], bool]:
    """-> (exit status, the last stderr lines, whether Ctrl-C/SIGTERM stopped it here)."""
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)}
    tail: list[str] = []
    # its own session: a Ctrl-C reaches the runner through us, once, after we decided to stop
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env, start_new_session=True)
    route = route_events(on_event, tail)
    reader = threading.Thread(target=lambda: [route(raw.decode(errors="replace").rstrip("\r\n"))
                                              for raw in proc.stderr], daemon=True)
    reader.start()
    interrupted = False
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        interrupted = True
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.kill()
            rc = proc.wait()
    reader.join(timeout=5)
    return rc, tail, interrupted


def run_on_device(dep: Deployment, module_args: list[str], step: str, on_event: EventFn | None) -> dict:
    """The runner on a deployed board, through its transport, in the work dir -> its report (see the
    module docstring). A transport failure mid-run (a dropped connection) still fetches the report
    the runner wrote; `step` names the errors (target X: STEP: ...)."""
    report_rel = f"reports/{step}-{uuid.uuid4().hex[:12]}.json"
    pid_rel = report_rel + ".pid"
    tr = dep.transport
    argv = [*dep.target.python, "-m", *module_args]

    def stop_on_device() -> None:  # SIGINT takes the runner's Ctrl-C path: it writes its partial report
        tr.run(["sh", "-c", _STOP_SCRIPT, "sh", pid_rel], step="stop the run", cwd=dep.workdir, check=False)

    failure: EdgeferError | None = None
    interrupted = False
    try:
        res = tr.run([*argv, *_flags(report_rel, pid_rel, on_event)], step=step, cwd=dep.workdir,
                     env={"PYTHONPATH": dep.workdir}, check=False, on_stderr_line=route_events(on_event),
                     on_interrupt=stop_on_device)
        interrupted = res.interrupted
        if res.rc not in (0, 1) and not interrupted:  # 1 = partial report written, by the runner contract
            failure = tr.command_failed(res, step, argv)
    except EdgeferError as exc:  # disconnect and other transport failures mid-run
        failure = exc
    try:
        report = _fetch_json(dep, report_rel)
    except EdgeferError:
        if failure is not None:
            raise failure from None  # what went wrong first, not that the fetch then failed too
        raise
    finally:
        try:
            tr.run(["rm", "-f", "--", report_rel, pid_rel], step="clean up", cwd=dep.workdir, check=False)
        except EdgeferError:
            pass  # a board gone away keeps two small files; the run's outcome matters more
    if report is None and failure is None and not interrupted:
        failure = tr.fail("fetch report", f"the runner wrote no report at {report_rel}")
    return finish_run(report, interrupted, failure)


def finish_run(report: dict | None, interrupted: bool, failure: EdgeferError | None) -> dict:
    """What every run ends with, here or on a board: the report, marked partial when the run was
    stopped here or failed after writing it (each of its repeats too, so that merging the repeats
    keeps it partial). No report: KeyboardInterrupt when stopped here, else the failure."""
    if report is None:
        if interrupted:
            raise KeyboardInterrupt
        raise failure or EdgeferError("the runner wrote no report")
    if interrupted:
        reason = f"{report.get('partial_reason') or 'interrupted'} ({STOPPED})"
    elif failure is None:
        return report
    elif report.get("partial"):
        reason = f"{report.get('partial_reason') or 'partial'}; then {failure.one_line()}"
    else:
        reason = failure.one_line()
    report["partial"], report["partial_reason"] = True, reason
    for rec in report.get("repeats") or []:
        rec["partial"], rec["partial_reason"] = True, reason
    return report


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None  # a report cut short while being written is no report


def _fetch_json(dep: Deployment, rel: str) -> dict | None:
    from edgefer.deploy.shell import join_path

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "report.json"
        if not dep.transport.get_file(dep.transport.resolve(join_path(dep.workdir, rel)), local,
                                      step="fetch report"):
            return None
        return _read_json(str(local))
