"""The counting board for the instruction-count tests: the emulated board of EDGEFER_QEMU_DIR
(default ~/.cache/edgefer/qemu-aarch64), run through its python-<cpu>-icount wrappers."""

from __future__ import annotations

import shutil
from pathlib import Path

from _deploy_helpers import QEMU_DIR, qemu_missing

from edgefer.targets import Target, load_target

PLUGIN = QEMU_DIR / "icount" / "libedgefer-icount.so"
PROFILES = {"cortex-a72": "qemu-aarch64", "cortex-a76": "qemu-aarch64-a76"}


def icount_missing() -> str | None:
    """Why instruction counting cannot run here, or None."""
    why = qemu_missing()
    if why:
        return why
    if shutil.which("qemu-aarch64") is None:
        return "qemu-aarch64 (dynamic, package qemu-user) not installed (bash .ci/setup-board.sh)"
    if not PLUGIN.is_file() or not (QEMU_DIR / "python-cortex-a72-icount").is_file():
        return f"instruction-count plugin not built in {QEMU_DIR} (bash cross/setup-qemu-aarch64.sh)"
    return None


def wrapper(cpu: str) -> Path:
    return QEMU_DIR / f"python-{cpu}-icount"


def counting_target(cpu: str, workdir: Path) -> Target:
    """The cpu's emulated profile, run on this machine (no sshd needed) with this board's wrappers."""
    t = load_target(PROFILES[cpu])
    data = {**t.model_dump(), "connection": {"type": "local"}, "workdir": str(workdir),
            "python": [str(QEMU_DIR / f"python-{cpu}")],
            "instruction_counts": {"python": [str(wrapper(cpu))], "default": False}}
    return Target.model_validate(data)
