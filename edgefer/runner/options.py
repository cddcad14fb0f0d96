"""Parsing of the runner's command-line options and its SIGTERM handling.

Stdlib only and free of numpy: `python -m edgefer.runner probe` must run (and say numpy is
missing) on a board where numpy is not installed yet. Shared by the device runner and the
host's `edgefer bench`, so both accept the same spellings.
"""

from __future__ import annotations

from typing import Any, Callable

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
