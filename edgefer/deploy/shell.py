"""Build the POSIX shell line a device runs, with every argument quoted.

Remote commands go through the device's shell (ssh and adb always do), so each argument
is quoted with shlex.quote: a path with spaces, quotes or `;` in a profile stays one
literal argument. The only expansion allowed is a leading `~/`, meaning the device
user's home, written as "$HOME"/'rest' so the rest is still quoted.
"""

from __future__ import annotations

import shlex


def quote_path(path: str) -> str:
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def join_path(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def command_line(argv: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None) -> str:
    """`cd CWD && export K=V && exec ARGV...`; any argument may be a ~/ path (workdir, qemu wrapper)."""
    if not argv:
        raise ValueError("empty command")
    parts = []
    if cwd is not None:
        parts.append(f"cd {quote_path(cwd)}")
    for key, value in (env or {}).items():
        if not key.isidentifier():
            raise ValueError(f"bad environment variable name {key!r}")
        parts.append(f"export {key}={quote_path(value)}")
    parts.append("exec " + " ".join(quote_path(a) for a in argv))
    return " && ".join(parts)
