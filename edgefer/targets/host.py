"""Facts about this machine, for profiles that say `arch: auto` / `cpu: auto` (the local target)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

_MACHINE = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def host_arch() -> str:
    m = platform.machine().lower()
    return _MACHINE.get(m, m)


def host_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """CPU model, core count and ISA flags of this machine (flags empty when unknown)."""
    model, flags = platform.processor() or host_arch(), []
    try:
        text = cpuinfo.read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware") and value.strip():
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = value.split()
    return {"model": model, "cores": os.cpu_count() or 1, "features": flags}
