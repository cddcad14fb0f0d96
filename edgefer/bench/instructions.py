"""Guest instruction counts on emulated targets, host side (docs/instruction-counts.md).

- `counting_target()`: whether a bench counts instructions (--count-instructions or the profile's
  `instruction_counts.default`), and the target to run it on (python = the counting wrapper);
  every impossible request is a one-line EdgeferError naming what to run.
- `InstructionCounts`: the report's optional `instructions` section (written by
  edgefer/runner/icount.py on the device).
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict

from edgefer.errors import EdgeferError

SETUP = "bash .ci/setup-board.sh (or apt-get install -y qemu-user gcc && bash cross/setup-qemu-aarch64.sh)"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class InstructionCounts(BaseModel):
    """Counts of the timed inference calls only (not import, load, first inference or warm-up)."""

    model_config = ConfigDict(extra="allow")  # the plugin's facts may grow
    method: str
    counter: str | None = None
    mode: str | None = None  # "tb" | "insn"
    qemu: str | None = None  # `qemu-aarch64 --version` of the counting emulator
    plugin_api: int | None = None
    qemu_api: list[int | None] | None = None  # [min, cur] plugin API versions QEMU accepts
    cpu_view: str | None = None  # QEMU_CPU: cortex-a72 | cortex-a76
    hash_seed: str | None = None
    aslr: str | None = None  # "off": host address randomisation disabled for the emulator
    guest_threads: int | None = None
    n_inferences: int
    batch_size: int = 1
    total: int
    per_inference: float | None = None
    per_inference_min: float | None = None
    per_inference_max: float | None = None
    per_call: list[int] = []
    first_inference: int | None = None
    marker_overhead: int | None = None
    calibration: list[int] = []


def _runs_here(target: Any) -> bool:
    """The emulator runs on this machine (local connection or SSH to loopback): its files can be checked."""
    conn = target.connection
    return conn.type == "local" or (conn.type == "ssh" and getattr(conn, "host", None) in _LOOPBACK)


def counting_target(target: Any, count_instructions: bool | None) -> tuple[Any, bool]:
    """(target to bench on, whether to count). `count_instructions` None = the profile's default."""
    spec = getattr(target, "instruction_counts", None)
    wanted = count_instructions if count_instructions is not None else bool(spec and spec.default)
    if not wanted:
        return target, False
    if not target.emulated:
        raise EdgeferError(f"--count-instructions needs an emulated target; '{target.name}' is real hardware "
                           f"(count on --target qemu-aarch64 or qemu-aarch64-a76, built by {SETUP})")
    if spec is None:
        raise EdgeferError(f"target '{target.name}' has no instruction_counts.python (the counting wrapper) in its "
                           f"profile; see targets/qemu-aarch64.yaml")
    wrapper = os.path.expanduser(spec.python[0])
    if _runs_here(target) and os.path.isabs(wrapper) and not os.path.exists(wrapper):
        raise EdgeferError(f"the counting wrapper {wrapper} is missing (the board was built without instruction "
                           f"counting): run {SETUP}")
    return target.model_copy(update={"python": list(spec.python)}), True


def summary_line(section: dict[str, Any] | None) -> str | None:
    """One line for the CLI after a bench report, or None without counts."""
    if not section:
        return None
    per = section.get("per_inference")
    spread = ""
    lo, hi = section.get("per_inference_min"), section.get("per_inference_max")
    if per and lo is not None and hi is not None:
        spread = f", min..max {lo:,.0f}..{hi:,.0f}"
    return (f"instructions: {per:,.0f} per inference{spread} over {section.get('n_inferences')} inferences "
            f"({section.get('cpu_view') or 'emulated'} view, {section.get('mode')} mode; a proxy for work, not time)"
            if per is not None else "instructions: no timed inference was counted")


def add_reproduce_column(head: list[str], rows: list[list[str]], per_inference: list[float | None]) -> None:
    """`reproduce`'s table: a column of instruction counts beside the emulated timings, if any row has one."""
    if all(v is None for v in per_inference):
        return
    head.append("M insn/inf (emulated)")
    for cells, v in zip(rows, per_inference):
        cells.append("—" if v is None else f"{v / 1e6:.2f}")
