"""One interface over the ways to reach a device: run a command, send files, fetch a file.

Subclasses only say how a shell line reaches the device (`_host_argv`) and how to turn
their tool's failures into one-line errors (`_transport_error`); running, streaming stderr
and the tar-based file upload are shared. `TRANSPORTS` names them by a target's connection type.
"""

from __future__ import annotations

import subprocess
import tarfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgefer.deploy.shell import command_line
from edgefer.errors import EdgeferError
from edgefer.runner.registry import Registry
from edgefer.targets import Target

STDERR_TAIL = 20  # lines of device stderr kept for error messages


STOP_TIMEOUT_S = 120  # after an interrupt, how long the device gets to write its partial report


@dataclass
class RunResult:
    rc: int
    stdout: bytes
    stderr_tail: list[str]
    interrupted: bool = False  # Ctrl-C/SIGTERM on the host arrived while it ran (on_interrupt was called)

    def last_error(self) -> str:
        """The most telling stderr line: the runner's 'error: ...', else the last one."""
        for line in reversed(self.stderr_tail):
            if line.startswith("error:"):
                return line[len("error:"):].strip()
        return self.stderr_tail[-1] if self.stderr_tail else "no output"


class Transport(ABC):
    kind: str

    def __init__(self, target: Target) -> None:
        self.target = target

    def fail(self, step: str, problem: str, hint: str | None = None) -> EdgeferError:
        return EdgeferError(f"target {self.target.name}: {step}: {problem}", hint=hint)

    @abstractmethod
    def _host_argv(self, line: str) -> list[str]:
        """Host command that runs the shell `line` on the device."""

    @abstractmethod
    def _transport_error(self, result: RunResult, step: str) -> EdgeferError | None:
        """The error when `result` is the transport's own failure (not the device command's)."""

    def _spawn(self, argv: list[str], step: str, stdin: bool) -> subprocess.Popen:
        # A session of its own: Ctrl-C in the terminal reaches edgefer only, which then stops the
        # device command cleanly (on_interrupt) instead of the connection dying under it.
        try:
            return subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except FileNotFoundError:
            raise self.fail(step, f"'{argv[0]}' is not installed on this machine") from None

    def spawn(self, argv: list[str], *, step: str, cwd: str | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start argv on the device and return at once (stdin/stdout/stderr are pipes): for
        commands that live as long as a run, like the board-lock holder."""
        return self._spawn(self._host_argv(command_line(argv, cwd=cwd, env=env)), step, stdin=True)

    def run(
        self,
        argv: list[str],
        *,
        step: str,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        feed: Callable[[object], None] | None = None,
        on_stderr_line: Callable[[str], None] | None = None,
        check: bool = True,
        on_interrupt: Callable[[], None] | None = None,
    ) -> RunResult:
        """Run argv on the device. `feed(stdin)` writes the command's input; stderr lines are
        passed to `on_stderr_line` as they arrive. Transport failures always raise; a
        non-zero exit of the device command raises only with check=True.

        Ctrl-C/SIGTERM (KeyboardInterrupt) while it runs: without `on_interrupt` the command is
        killed and the interrupt goes on; with it, on_interrupt() is called (it asks the device to
        stop), the command gets STOP_TIMEOUT_S to finish, and the result says interrupted=True."""
        proc = self._spawn(self._host_argv(command_line(argv, cwd=cwd, env=env)), step, stdin=feed is not None)
        tail: list[str] = []
        out: list[bytes] = []

        def read_stderr() -> None:
            for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip("\r\n")
                if on_stderr_line is not None:
                    on_stderr_line(line)
                tail.append(line)
                del tail[:-STDERR_TAIL]

        threads = [threading.Thread(target=read_stderr, daemon=True),
                   threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)]
        if feed is not None:
            def write_stdin() -> None:
                try:
                    feed(proc.stdin)
                    proc.stdin.close()
                except (BrokenPipeError, OSError):
                    pass  # the command exited early; its exit status tells why
            threads.append(threading.Thread(target=write_stdin, daemon=True))
        for t in threads:
            t.start()
        interrupted = False
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            if on_interrupt is None:
                proc.kill()
                proc.wait()
                raise
            interrupted = True
            try:
                on_interrupt()
                rc = proc.wait(timeout=STOP_TIMEOUT_S)
            except (KeyboardInterrupt, subprocess.TimeoutExpired, EdgeferError):
                proc.kill()
                rc = proc.wait()
        for t in threads:
            t.join()
        result = RunResult(rc, b"".join(out), tail, interrupted)
        error = self._transport_error(result, step)
        if error is not None:
            raise error
        if check and rc != 0:
            raise self.command_failed(result, step, argv)
        return result

    def command_failed(self, result: RunResult, step: str, argv: list[str]) -> EdgeferError:
        if result.rc == 127:
            return self.fail(step, f"'{argv[0]}' not found on the device (exit 127)")
        return self.fail(step, f"exit status {result.rc} on the device: {result.last_error()}")

    def resolve(self, path: str) -> str:
        """A device path as the transport's file tools need it (no shell expansion)."""
        return path

    def put_files(self, files: list[tuple[Path, str]], remote_dir: str, *, step: str = "copy") -> None:
        """Copy local files to remote_dir/relative_name, as one tar stream into `tar -x`."""

        def feed(stdin: object) -> None:
            with tarfile.open(fileobj=stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for local, rel in files:
                    tar.add(str(local), arcname=rel, recursive=False)

        # tar -o: do not restore the host's owner ids on the device
        self.run(["sh", "-c", 'mkdir -p -- "$1" && tar -x -o -f - -C "$1"', "sh", remote_dir], step=step, feed=feed)

    def get_file(self, remote: str, local: Path, *, step: str = "fetch") -> bool:
        """Fetch one file; False when it does not exist on the device."""
        res = self.run(["sh", "-c", 'if [ -f "$1" ]; then exec cat -- "$1"; else exit 3; fi', "sh", remote],
                       step=step, check=False)
        if res.rc == 3:
            return False
        if res.rc != 0:
            raise self.command_failed(res, step, ["cat"])
        local.write_bytes(res.stdout)
        return True

    def describe(self) -> str:
        return self.kind


# a target profile's connection type -> its Transport (a labgrid place is not one: it is leased
# first, edgefer.lab, and then reached over ssh)
TRANSPORTS = Registry("connection type")
TRANSPORTS.register("local", "edgefer.deploy.local:LocalTransport")
TRANSPORTS.register("ssh", "edgefer.deploy.ssh:SSHTransport")
TRANSPORTS.register("adb", "edgefer.deploy.adb:ADBTransport")

__all__ = ["RunResult", "Transport", "TRANSPORTS"]
