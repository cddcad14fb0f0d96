"""Environment fingerprint written into every report (device side: stdlib only).

Everything is read best-effort: a field that cannot be read is null, never guessed.
`root` lets tests point the /sys and /proc readers at a fake tree.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import socket
import subprocess
from typing import Any

EMULATED_ENV = "EDGEFER_EMULATED"  # set by the qemu wrapper, e.g. "qemu-aarch64 (cortex-a72)"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_info(root: str = "/") -> tuple[str | None, list[str]]:
    """CPU model name and feature flags from /proc/cpuinfo (x86 'flags', ARM 'Features')."""
    text = _read(os.path.join(root, "proc/cpuinfo")) or ""
    model, flags = None, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model is None:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = value.split()
    if model is None:
        model = platform.processor() or None
    return model, flags


def governor(root: str = "/") -> str | None:
    govs = {_read(p) for p in glob.glob(os.path.join(root, "sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor"))}
    govs.discard(None)
    return ",".join(sorted(govs)) if govs else None  # type: ignore[arg-type]


def temperatures(root: str = "/") -> dict[str, float]:
    """°C per thermal zone (/sys/class/thermal/thermal_zone*/temp is in millidegrees)."""
    temps: dict[str, float] = {}
    for zone in sorted(glob.glob(os.path.join(root, "sys/class/thermal/thermal_zone*"))):
        raw = _read(os.path.join(zone, "temp"))
        if raw is None:
            continue
        try:
            value = int(raw) / 1000.0
        except ValueError:
            continue
        kind = _read(os.path.join(zone, "type")) or os.path.basename(zone)
        name = kind if kind not in temps else f"{kind}.{os.path.basename(zone)}"
        temps[name] = value
    return temps


# bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation)
_THROTTLE_BITS = {0: "under_voltage", 1: "arm_freq_capped", 2: "throttled", 3: "soft_temp_limit",
                  16: "under_voltage_occurred", 17: "arm_freq_capped_occurred", 18: "throttled_occurred",
                  19: "soft_temp_limit_occurred"}


def parse_throttled(text: str) -> dict[str, Any] | None:
    """`throttled=0x50005` -> {"raw": "0x50005", "under_voltage": True, ...}."""
    _, _, value = text.strip().partition("=")
    try:
        bits = int(value, 16)
    except ValueError:
        return None
    return {"raw": value, **{name: bool(bits >> b & 1) for b, name in _THROTTLE_BITS.items()}}


def throttling(vcgencmd: str = "vcgencmd") -> dict[str, Any] | None:
    exe = shutil.which(vcgencmd)
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_throttled(out)


def emulation(root: str = "/") -> tuple[bool, str | None]:
    """(emulated, emulator): the qemu wrapper's env var, else a QEMU signature in /proc/cpuinfo."""
    env = os.environ.get(EMULATED_ENV)
    if env:
        return True, env
    text = (_read(os.path.join(root, "proc/cpuinfo")) or "").lower()
    if "qemu" in text:
        return True, "qemu (detected in /proc/cpuinfo)"
    return False, None


def module_version(name: str) -> str | None:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version(name)
    except (ImportError, PackageNotFoundError):
        return None
    except Exception:
        return None


def fingerprint(runtime_versions: dict[str, str | None], root: str = "/") -> dict[str, Any]:
    """Static part of the environment; temperatures before/after are added around the run."""
    import numpy

    model, flags = cpu_info(root)
    emulated, emulator = emulation(root)
    return {
        "hostname": socket.gethostname(),
        "machine": platform.machine(),
        "cpu_model": model,
        "cpu_flags": flags,
        "cpu_count": os.cpu_count(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "runtime_versions": runtime_versions,
        "governor": governor(root),
        "temperatures_before": {},
        "temperatures_after": {},
        "throttling": None,
        "emulated": emulated,
        "emulator": emulator,
    }
