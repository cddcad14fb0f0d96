"""One benchmark per board at a time: an advisory lock file on the device (stdlib only).

Two benchmarks on one board (two users, two CI jobs, a study and a manual run) spoil each other's
timings without a word. Every bench holds this lock for its whole run, all repeats included;
a second one waits, saying who holds the board, up to a timeout, then fails naming the holder.
flock(2) is released by the kernel when the holder dies, so a crashed run never leaves the board
locked. The file sits in the device's temp dir (EDGEFER_LOCK_DIR overrides), shared by all users;
the emulated board sees the host's /tmp, so it and the local target (the same CPU) share one lock.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import tempfile
import time
from typing import Any, Callable

from edgefer.errors import EdgeferError

LOCK_NAME = "edgefer-bench.lock"
POLL_S = 0.2


def lock_path() -> str:
    return os.path.join(os.environ.get("EDGEFER_LOCK_DIR") or tempfile.gettempdir(), LOCK_NAME)


def describe_holder(info: dict[str, Any] | None) -> str:
    if not info:
        return "another process (no holder information)"
    since = info.get("since")
    what = info.get("what") or "a benchmark"
    return f"{what} by {info.get('user', '?')}@{info.get('host', '?')} pid {info.get('pid', '?')}" + (
        f" since {since}" if since else "")


def whoami(what: str) -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers, Android)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return {"user": user, "host": socket.gethostname(), "pid": os.getpid(), "what": what,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


class BoardLock:
    """flock on `path`; `acquire` waits up to timeout_s, calling on_wait(holder) once when it must wait."""

    def __init__(self, holder: dict[str, Any], path: str | None = None) -> None:
        self.path = path or lock_path()
        self.holder = holder
        self._fd: int | None = None
        self.waited_s = 0.0

    def read_holder(self) -> dict[str, Any] | None:
        try:
            with open(self.path) as f:
                text = f.read().strip()
            return json.loads(text) if text else None
        except (OSError, ValueError):
            return None

    def acquire(self, timeout_s: float, on_wait: Callable[[dict[str, Any] | None], None] | None = None) -> float:
        import fcntl

        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise EdgeferError(f"cannot open the board lock {self.path}: {exc.strerror or exc}") from None
        try:
            os.fchmod(fd, 0o666)  # other users' benches must be able to take it too
        except OSError:
            pass
        start = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self.read_holder()
                if time.monotonic() - start >= timeout_s:
                    os.close(fd)
                    raise EdgeferError(
                        f"the board is busy: held by {describe_holder(holder)}; waited {timeout_s:g} s",
                        hint="wait for that run to finish, or raise --lock-timeout") from None
                if not told and on_wait is not None:
                    on_wait(holder)
                    told = True
                time.sleep(POLL_S)
        self._fd = fd
        self.waited_s = time.monotonic() - start
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(self.holder).encode())
        return self.waited_s

    def release(self) -> None:
        if self._fd is None:
            return
        import fcntl

        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "BoardLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def hold_until_eof(holder_json: str, timeout_s: float) -> int:
    """`python -m edgefer.runner lock`: take the lock, say so on stdout as JSON lines, hold it
    until stdin closes (the host is done, or its connection died), then release it."""
    try:
        holder = json.loads(holder_json) if holder_json else whoami("a benchmark")
    except ValueError:
        raise EdgeferError("--holder is not valid JSON") from None
    holder = {**holder, "pid": os.getpid()}

    def say(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    lock = BoardLock(holder)
    waited = lock.acquire(timeout_s, on_wait=lambda h: say({"event": "waiting", "holder": describe_holder(h)}))
    say({"event": "locked", "waited_s": waited, "lock": lock.path})
    try:
        sys.stdin.read()
    except (KeyboardInterrupt, OSError):
        pass
    finally:
        lock.release()
    return 0
