"""Where bench repeats run: this machine (a runner child process) or a deployed device.

Every repeat is one `python -m edgefer.runner bench` process, on every target: the local machine
too, so memory, threads and CPU figures are the model's, not those of the edgefer process that
imported torch and the converters. A host prepares the artifacts (deploy), holds the board lock
for the whole run, and runs one repeat at a time; Ctrl-C/SIGTERM on the host stops the runner
on the device, which writes its partial report, and the host fetches it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, Iterator

import edgefer
from edgefer.errors import EdgeferError
from edgefer.runner.settings import BenchSettings

EventFn = Callable[[dict], None]
WaitFn = Callable[[str], None]  # called once with "who holds the board" when a run must wait
STOP_TIMEOUT_S = 120
STOPPED = "stopped on the host by Ctrl-C/SIGTERM"  # why a run a user stopped here is partial
_PACKAGE_PARENT = str(Path(edgefer.__file__).resolve().parent.parent)


def route_events(on_event: EventFn | None, tail: list[str]) -> Callable[[str], None]:
    """Runner stderr lines: JSON events go to on_event, the rest are kept (last 20) for errors."""

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
        tail.append(line)
        del tail[:-20]

    return route


def runner_error(tail: list[str], rc: int) -> str:
    for line in reversed(tail):
        if line.startswith("error:"):
            return line[len("error:"):].strip()
    return tail[-1] if tail else f"exit status {rc}"


def mark_interrupted(report: dict, why: str) -> dict:
    report["partial"] = True
    report["partial_reason"] = f"{report.get('partial_reason') or 'interrupted'} ({why})"
    for rec in report.get("repeats") or []:
        if not rec.get("partial"):
            continue
        rec["partial_reason"] = f"{rec.get('partial_reason') or 'interrupted'} ({why})"
    return report


class RunnerHost(ABC):
    """The small interface the repeat scheduler sees (MLPerf LoadGen style: it knows no transport)."""

    what = "bench"  # what holds the board, in the lock's holder record ("pipeline" for a pipeline run)

    def __init__(self, target: Any) -> None:
        self.target = target

    def prepare(self, paths: list[str]) -> None:
        """Make the artifacts runnable there (deploy); nothing for the local machine."""

    @abstractmethod
    def hold(self, timeout_s: float, on_wait: WaitFn | None) -> contextlib.AbstractContextManager[dict]:
        """The board lock for the whole run; yields the report's `exclusive` record."""

    @abstractmethod
    def run_repeat(self, path: str, settings: BenchSettings, index: int, on_event: EventFn | None,
                   extra: list[str] | None = None) -> dict:
        """One repeat in a fresh runner process (`extra`: more runner flags, e.g. --op-profile N);
        its single-repeat report (partial when stopped)."""


class LocalHost(RunnerHost):
    """This machine: the runner as a child process of edgefer, the lock taken here."""

    @contextlib.contextmanager
    def hold(self, timeout_s: float, on_wait: WaitFn | None) -> Iterator[dict]:
        from edgefer.runner.lock import BoardLock, describe_holder, whoami

        lock = BoardLock(whoami(f"edgefer {self.what}"))
        waited = lock.acquire(timeout_s, on_wait=(lambda h: on_wait(describe_holder(h))) if on_wait else None)
        try:
            yield {"held": True, "lock": f"{self.target.name}:{lock.path}", "waited_s": round(waited, 3)}
        finally:
            lock.release()

    def run_repeat(self, path: str, settings: BenchSettings, index: int, on_event: EventFn | None,
                   extra: list[str] | None = None) -> dict:
        with tempfile.TemporaryDirectory(prefix="edgefer-repeat-") as tmp:
            out = os.path.join(tmp, "report.json")
            return runner_report(run_runner_process(
                ["-m", "edgefer.runner", "bench", path, "--out", out, "--progress", "jsonl",
                 "--repeat-index", str(index), "--target-json", json.dumps(self.target.summary()),
                 *settings.to_argv(), *(extra or [])], out, on_event), "benchmark")


def run_runner_process(args: list[str], out: str, on_event: EventFn | None = None
                       ) -> tuple[dict | None, int, list[str], bool]:
    """This interpreter running `args` (e.g. ["-m", "edgefer.runner", "bench", ...]) as a child
    process that writes its report to `out`. Ctrl-C/SIGTERM here is passed on as SIGINT, so the
    runner writes what it measured before it exits. -> (the report or None, exit status, the
    last stderr lines, whether it was interrupted)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)}
    tail: list[str] = []
    # its own session: a Ctrl-C reaches the runner through us, once, after we decided to stop
    proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    route = route_events(on_event, tail)
    reader = threading.Thread(
        target=lambda: [route(raw.decode(errors="replace").rstrip("\r\n")) for raw in proc.stderr], daemon=True)
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
    return _read_json(out), rc, tail, interrupted


def runner_report(result: tuple[dict | None, int, list[str], bool], what: str) -> dict:
    """run_runner_process's result -> the runner's report (marked partial when stopped here).
    No report: KeyboardInterrupt when it was stopped before measuring, a one-line EdgeferError
    (exit 2 for the runner's user errors) otherwise."""
    report, rc, tail, interrupted = result
    if report is None:
        if interrupted:
            raise KeyboardInterrupt
        if rc == 2:
            raise EdgeferError(runner_error(tail, rc))
        raise EdgeferError(f"the {what} runner failed (exit {rc}): {runner_error(tail, rc)}")
    return mark_interrupted(report, STOPPED) if interrupted else report


class DeviceHost(RunnerHost):
    """A board reached through a transport (SSH, ADB, or the emulated board's wrapper)."""

    def __init__(self, target: Any, install_deps: bool = False) -> None:
        super().__init__(target)
        self.install_deps = install_deps
        self.deployments: dict[str, Any] = {}

    def prepare(self, paths: list[str]) -> None:
        from edgefer.deploy import deploy

        for p in paths:
            if p not in self.deployments:
                self.deployments[p] = deploy(p, self.target, install_deps=self.install_deps)

    def _any(self):
        return next(iter(self.deployments.values()))

    @contextlib.contextmanager
    def hold(self, timeout_s: float, on_wait: WaitFn | None) -> Iterator[dict]:
        dep = self._any()
        from edgefer.runner.lock import whoami

        holder = json.dumps(whoami(f"edgefer {self.what} from " + os.uname().nodename))
        proc = dep.spawn_runner("lock", "--holder", holder, "--timeout", str(timeout_s), step="lock the board")
        tail: list[str] = []
        errs = threading.Thread(
            target=lambda: [tail.append(raw.decode(errors="replace").rstrip()) for raw in proc.stderr], daemon=True)
        errs.start()
        locked: dict | None = None
        try:
            for raw in proc.stdout:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if event.get("event") == "waiting" and on_wait is not None:
                    on_wait(str(event.get("holder")))
                elif event.get("event") == "locked":
                    locked = event
                    break
            if locked is None:
                rc = proc.wait()
                errs.join(timeout=5)
                raise dep.transport.fail("lock the board", runner_error(tail, rc))
            yield {"held": True, "lock": f"{self.target.name}:{locked.get('lock')}",
                   "waited_s": round(float(locked.get("waited_s") or 0.0), 3)}
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # EOF: the holder releases the lock and exits
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def run_repeat(self, path: str, settings: BenchSettings, index: int, on_event: EventFn | None,
                   extra: list[str] | None = None) -> dict:
        from edgefer.deploy.remote import run_remote_repeat

        return run_remote_repeat(self.deployments[path], settings, index, on_event, extra)


def open_host(target: Any, install_deps: bool = False) -> RunnerHost:
    # the plain local machine runs the runner as a child; an emulated "local" board under its wrapper
    if target.connection.type == "local" and not target.emulated:
        return LocalHost(target)
    return DeviceHost(target, install_deps)


def _read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def new_report_name(path: str) -> str:
    return f"reports/{Path(path).stem}-{uuid.uuid4().hex[:12]}.json"
