"""Where runner processes run: this machine (a child process) or a deployed device.

Every repeat, of `bench` and of `pipeline`, is one runner process, on every target: the local
machine too, so memory, threads and CPU figures are the model's, not those of the edgefer process
that imported torch and the converters. A host prepares the artifacts (deploy), holds the board
lock for the whole run, and runs one runner process at a time (`run_runner`, the protocol of
edgefer.deploy.runner_process: events, stop through the pid file, the partial report fetched).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator

from edgefer.deploy.runner_process import EventFn, run_here, run_on_device, runner_error
from edgefer.runner.settings import BenchSettings

WaitFn = Callable[[str], None]  # called once with "who holds the board" when a run must wait


class RunnerHost(ABC):
    """The small interface the repeat schedulers see (MLPerf LoadGen style: they know no transport)."""

    what = "bench"  # what holds the board, in the lock's holder record ("pipeline" for a pipeline run)

    def __init__(self, target: Any) -> None:
        self.target = target

    def prepare(self, paths: list[str]) -> None:
        """Make the artifacts runnable there (deploy); nothing for the local machine."""

    @abstractmethod
    def hold(self, timeout_s: float, on_wait: WaitFn | None) -> contextlib.AbstractContextManager[dict]:
        """The board lock for the whole run; yields the report's `exclusive` record."""

    @abstractmethod
    def runner_path(self, path: str) -> str:
        """A prepared artifact's path as the runner there names it."""

    @abstractmethod
    def run_runner(self, module_args: list[str], step: str, on_event: EventFn | None) -> dict:
        """One runner process, `python -m MODULE ARGS` (module_args: ["edgefer.runner", "bench", ...]),
        with --out, --pid-file and --progress added -> its report, partial when it was stopped
        (Ctrl-C/SIGTERM here) or failed after writing it; `step` names it in errors."""

    def run_repeat(self, path: str, settings: BenchSettings, on_event: EventFn | None) -> dict:
        """One bench repeat in a fresh runner process (its index and any op profile travel in
        `settings`) -> its single-repeat report (partial when stopped)."""
        from edgefer.bench.torch_runner import runner_module  # --runtime torch: the host's runner

        target_json = json.dumps(self.target.summary(), separators=(",", ":"))
        args = ["bench", self.runner_path(path), "--target-json", target_json, *settings.to_argv()]
        return self.run_runner([runner_module(settings.runtime), *args], "bench", on_event)


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

    def runner_path(self, path: str) -> str:
        return path

    def run_runner(self, module_args: list[str], step: str, on_event: EventFn | None) -> dict:
        return run_here(module_args, step, on_event)


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

    def runner_path(self, path: str) -> str:
        return self.deployments[path].artifact

    def run_runner(self, module_args: list[str], step: str, on_event: EventFn | None) -> dict:
        return run_on_device(self._any(), module_args, step, on_event)


def open_host(target: Any, install_deps: bool = False) -> RunnerHost:
    # the plain local machine runs the runner as a child; an emulated "local" board under its wrapper
    if target.connection.type == "local" and not target.emulated:
        return LocalHost(target)
    return DeviceHost(target, install_deps)
