"""Guest instruction counts of the timed inferences, on the emulated board (device side, stdlib only).

The board's counting wrapper (python-<cpu>-icount, written by cross/setup-qemu-aarch64.sh) runs
python under the dynamic qemu-aarch64 with the edgefer-icount TCG plugin (cross/icount-plugin),
which adds every executed guest instruction to one counter with code inlined into the translated
blocks. This module marks regions for the plugin with a marker syscall: lseek(-1, MAGIC, cmd),
a plain EBADF on any Linux, seen by the plugin's syscall callback before the kernel call.

Each inference call is its own region (BEGIN before, END after), so a count holds the runtime's
work for that call and none of the harness around it (timing, progress output, list appends),
which would vary with wall-clock time. A region also holds the fixed cost of leaving one marker
and entering the next; `calibrate()` measures it with empty regions and it is subtracted.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from edgefer.errors import EdgeferError

OUT_ENV = "EDGEFER_ICOUNT_OUT"  # set by the counting wrapper: the plugin's output file ("%p" = pid)
QEMU_ENV = "EDGEFER_ICOUNT_QEMU"  # the wrapper's `qemu-aarch64 --version` line
MODE_ENV = "EDGEFER_ICOUNT_MODE"
ASLR_ENV = "EDGEFER_ICOUNT_ASLR"  # "off" when the wrapper runs qemu with address randomisation off
MARKER_OFFSET = 0x45444745464552  # "EDGEFER"; must match cross/icount-plugin/icount.c
MARKER_WHENCE = 0x49430000
BEGIN, END, WRITE = 1, 2, 3
CALIBRATION_REGIONS = 5
SETUP_HINT = "run it with the board's python-<cpu>-icount wrapper (bash cross/setup-qemu-aarch64.sh builds it)"

METHOD = ("guest aarch64 instructions executed, counted by the edgefer-icount QEMU TCG plugin with inline "
          "counters ({mode} mode: {mode_text}); one region per timed inference call, delimited by marker "
          "syscalls, minus the marker overhead measured on empty regions; a proxy for work, not time "
          "(no caches, memory bandwidth or clock frequency are modelled)")
MODE_TEXT = {"tb": "one add of the block's instruction count per executed translation block",
             "insn": "one add per executed instruction"}


def mark(cmd: int) -> None:
    """One marker syscall. Harmless without the plugin: lseek on fd -1 fails with EBADF."""
    try:
        os.lseek(-1, MARKER_OFFSET, MARKER_WHENCE | cmd)
    except OSError:
        pass


class InstructionCounter:
    """Talks to the plugin of this process: mark regions, collect their counts."""

    def __init__(self, out_template: str | None = None):
        template = out_template if out_template is not None else os.environ.get(OUT_ENV)
        if not template:
            raise EdgeferError(f"instruction counting asked, but this python does not run under the counting "
                               f"plugin ({OUT_ENV} unset): {SETUP_HINT}")
        self.path = template.replace("%p", str(os.getpid()))
        self.info: dict[str, Any] = {}
        self.overhead = 0
        self.calibration: list[int] = []

    @classmethod
    def open(cls) -> InstructionCounter:
        """A counter whose plugin has answered once: fails before any model is loaded."""
        counter = cls()
        counter.collect()
        return counter

    def collect(self) -> list[int]:
        """Counts of the regions closed since the last collect, oldest first."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        mark(WRITE)
        try:
            with open(self.path) as f:
                data = json.load(f)
            os.unlink(self.path)
        except (OSError, ValueError) as exc:
            raise EdgeferError(f"the instruction-count plugin did not answer ({self.path}: {exc}): {SETUP_HINT}")
        self.info = data
        return [int(n) for n in data.get("regions", [])]

    def calibrate(self, n: int = CALIBRATION_REGIONS) -> int:
        """Check the plugin answers and measure the cost of an empty region (subtracted from each count)."""
        self.collect()  # also clears regions marked before
        for _ in range(n):
            mark(BEGIN)
            mark(END)
        self.calibration = self.collect()
        if len(self.calibration) != n:
            raise EdgeferError(f"the instruction-count plugin closed {len(self.calibration)} of {n} test regions")
        self.overhead = min(self.calibration)
        return self.overhead

    def wrap(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """`fn` with each call counted as its own region."""
        def counted() -> Any:
            mark(BEGIN)
            try:
                return fn()
            finally:
                mark(END)
        return counted

    def finish(self, first_timed: int, n_timed: int, batch_size: int) -> dict[str, Any]:
        """Collect the regions counted since calibrate() and build the report section."""
        return self.section(self.collect(), first_timed, n_timed, batch_size)

    def section(self, regions: list[int], first_timed: int, n_timed: int, batch_size: int) -> dict[str, Any]:
        """The report's `instructions` section from all regions counted since calibrate().

        regions[0] is the first inference, then the warm-up calls, then the timed ones from
        `first_timed` on; only the `n_timed` timed calls count."""
        raw = regions[first_timed:first_timed + n_timed]
        per_call = [max(0, r - self.overhead) for r in raw]
        n_inf = len(per_call) * batch_size
        total = sum(per_call)
        mode = str(self.info.get("mode") or os.environ.get(MODE_ENV) or "tb")
        per_inf = [c / batch_size for c in per_call]
        return {
            "method": METHOD.format(mode=mode, mode_text=MODE_TEXT.get(mode, mode)),
            "counter": f"{self.info.get('plugin', 'edgefer-icount')} rev {self.info.get('plugin_revision')}",
            "mode": mode,
            "qemu": os.environ.get(QEMU_ENV) or None,
            "plugin_api": self.info.get("plugin_api"),
            "qemu_api": [self.info.get("qemu_api_min"), self.info.get("qemu_api_cur")],
            "cpu_view": os.environ.get("QEMU_CPU") or None,
            "hash_seed": os.environ.get("PYTHONHASHSEED"),
            "aslr": os.environ.get(ASLR_ENV) or None,
            "guest_threads": self.info.get("vcpus"),
            "n_inferences": n_inf,
            "batch_size": batch_size,
            "total": total,
            "per_inference": total / n_inf if n_inf else None,
            "per_inference_min": min(per_inf) if per_inf else None,
            "per_inference_max": max(per_inf) if per_inf else None,
            "per_call": per_call,
            "first_inference": max(0, regions[0] - self.overhead) if regions else None,
            "marker_overhead": self.overhead,
            "calibration": self.calibration,
        }
