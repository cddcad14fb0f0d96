"""An external meter: a command printing the current power in watts (last number on stdout)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

from edgefer.errors import EdgeferError
from edgefer.runner.energy.base import Meter

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def parse_watts(text: str) -> float:
    numbers = _NUMBER.findall(text)
    if not numbers:
        raise ValueError(f"no number in meter output {text.strip()[:80]!r}")
    return float(numbers[-1])


class ExternalMeter(Meter):
    name = "external"
    cumulative = False
    default_rate_hz = 2.0
    spec_keys = ("command", "rail")

    def __init__(self, command: str | list[str] | None = None, rail: str | None = None) -> None:
        super().__init__()
        if command is None:
            raise EdgeferError("external energy meter needs a 'command' that prints watts")
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv or shutil.which(self.argv[0]) is None:
            raise EdgeferError(f"external meter path missing: command '{self.argv[0] if self.argv else ''}' not found")
        self.rail = rail or "external"
        try:
            self.read()
        except (ValueError, subprocess.SubprocessError, OSError) as exc:
            raise EdgeferError(f"external meter '{' '.join(self.argv)}' did not print watts: {exc}")

    def read(self) -> float:
        out = subprocess.run(self.argv, capture_output=True, text=True, timeout=10, check=True).stdout
        return parse_watts(out)

    def describe(self) -> str:
        return f"external ({' '.join(self.argv)})"
