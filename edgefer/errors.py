"""User-facing errors.

Anything the user can cause (bad file, bad flag, unreachable board) is raised as
`EdgeferError`; the CLI prints its message on one line and exits non-zero, with no
traceback. Programming errors are left as ordinary exceptions.

Stdlib only: imported by the device-side runner too.
"""

from __future__ import annotations


class EdgeferError(Exception):
    """An error caused by user input or the environment, shown as one line."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint

    def one_line(self) -> str:
        msg = str(self).strip().replace("\n", " ")
        return f"{msg} ({self.hint})" if self.hint else msg


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an exception's message (its type name when the message is empty), cut
    to `limit` characters: library errors often span pages, a one-line error needs one line."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit] if limit else line


class GateFailed(EdgeferError):
    """A quality gate (accuracy drop, regression, parity) was violated: exit 1."""

    exit_code = 1


class SomeFailed(EdgeferError):
    """Some cells/rows of a multi-part run failed (each kept with its error): exit 1."""

    exit_code = 1
