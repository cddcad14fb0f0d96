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

from edgefer.runner.files import read_text

EMULATED_ENV = "EDGEFER_EMULATED"  # set by the qemu wrapper, e.g. "qemu-aarch64 (cortex-a72)"


# Arm "CPU part" numbers (implementer 0x41) of cores found on edge boards; arm64 /proc/cpuinfo
# has no model name, only these ids.
_ARM_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
              "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
              "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd42": "Cortex-A78AE", "0xd44": "Cortex-X1",
              "0xd46": "Cortex-A510", "0xd47": "Cortex-A710", "0xd48": "Cortex-X2", "0xd4b": "Cortex-A78C",
              "0xd4d": "Cortex-A715", "0xd4e": "Cortex-X3", "0xd80": "Cortex-A520", "0xd81": "Cortex-A720",
              "0xd82": "Cortex-X4"}


def cpu_info(root: str = "/") -> tuple[str | None, list[str]]:
    """CPU model and feature flags from /proc/cpuinfo (x86 'model name'/'flags'; Arm 'CPU part'/'Features')."""
    text = read_text(os.path.join(root, "proc/cpuinfo")) or ""
    model, flags, parts = None, [], []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key in ("model name", "hardware", "cpu model") and model is None:
            model = value
        elif key in ("flags", "features") and not flags:
            flags = value.split()
        elif key == "cpu part":
            parts.append(_ARM_PARTS.get(value.lower(), f"Arm part {value}"))
    if model is None and parts:  # big.LITTLE: "4x Cortex-A55 + 4x Cortex-A76"
        model = " + ".join(f"{parts.count(p)}x {p}" for p in dict.fromkeys(parts))
    if model is None:
        model = platform.processor() or None
    return model, flags


def board_model(root: str = "/") -> str | None:
    """Device-tree board name (e.g. 'Raspberry Pi 5 Model B Rev 1.0'); None on PCs."""
    raw = read_text(os.path.join(root, "proc/device-tree/model"))
    return raw.rstrip("\x00") if raw else None


def governor(root: str = "/") -> str | None:
    govs = {read_text(p) for p in glob.glob(os.path.join(root, "sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor"))}
    govs.discard(None)
    return ",".join(sorted(govs)) if govs else None  # type: ignore[arg-type]


def temperatures(root: str = "/") -> dict[str, float]:
    """°C per thermal zone (/sys/class/thermal/thermal_zone*/temp is in millidegrees)."""
    temps: dict[str, float] = {}
    for zone in sorted(glob.glob(os.path.join(root, "sys/class/thermal/thermal_zone*"))):
        raw = read_text(os.path.join(zone, "temp"))
        if raw is None:
            continue
        try:
            value = int(raw) / 1000.0
        except ValueError:
            continue
        kind = read_text(os.path.join(zone, "type")) or os.path.basename(zone)
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
    text = (read_text(os.path.join(root, "proc/cpuinfo")) or "").lower()
    if "qemu" in text:
        return True, "qemu (detected in /proc/cpuinfo)"
    return False, None


def module_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # not installed, or broken metadata: the report says null
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
        "board_model": board_model(root),
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
