"""Parsing of the runner's command-line options and its SIGTERM handling.

Stdlib only and free of numpy: `python -m edgefer.runner probe` must run (and say numpy is
missing) on a board where numpy is not installed yet. Shared by the device runner and the
host's `edgefer bench`, so both accept the same spellings.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from edgefer.errors import EdgeferError


def parse_cpus(text: str | None) -> list[int] | None:
    """'0,1' or '0-3' -> [0, 1] / [0, 1, 2, 3]."""
    if not text:
        return None
    cpus: list[int] = []
    try:
        for part in str(text).split(","):
            lo, _, hi = part.strip().partition("-")
            cpus.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise EdgeferError(f"invalid --cpus '{text}' (expected e.g. 0,1 or 0-3)")
    return cpus


def parse_shape(text: str | None) -> list[int] | None:
    """'1,1,48,48' or '1x1x48x48' -> [1, 1, 48, 48]."""
    if not text:
        return None
    try:
        return [int(d) for d in text.replace("x", ",").split(",")]
    except ValueError:
        raise EdgeferError(f"invalid --input-shape '{text}' (expected e.g. 1,1,48,48)")


def interrupt_on_sigterm() -> None:
    """Make SIGTERM take Ctrl-C's path: the run keeps its samples and is reported partial."""
    import signal

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def print_json(obj: Any) -> int:
    """A probe's answer: one JSON line on stdout; exit 0."""
    import json

    print(json.dumps(obj))
    return 0


def run_command(body: Callable[[], int], interrupted: str) -> int:
    """A runner subcommand's body with the runners' one exit contract: SIGTERM taken as Ctrl-C, a
    user error as one line `error: ...` with its exit code (2), Ctrl-C before anything was
    measured as `error: interrupted <interrupted>`, exit 130 (a run stopped later writes its
    partial report itself and returns 1)."""
    import sys

    interrupt_on_sigterm()
    try:
        return body()
    except EdgeferError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"error: interrupted {interrupted}", file=sys.stderr)
        return 130


@contextlib.contextmanager
def deferred_interrupts(what: str) -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while `what` runs, then raise KeyboardInterrupt at its end.

    For native code that aborts the whole process when Python interrupts it mid-way: torch's
    exporter under FakeTensorMode dies with a C++ `c10::Error` (exit 134), leaving the staging
    directory behind. The first signal is noted (one line on stderr) and taken at the safe point
    after the block; a second one interrupts at once, as before. Main thread only (elsewhere
    signals cannot be handled, and the block runs as is)."""
    import os
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        os.write(2, f"stopping once {what} returns (interrupting it would abort the process)\n".encode())

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        raise KeyboardInterrupt
