"""Intel/AMD RAPL through Linux powercap: a cumulative `energy_uj` counter that wraps."""

from __future__ import annotations

import os

from edgefer.errors import EdgeferError
from edgefer.runner.energy.base import Meter
from edgefer.runner.files import read_text

DEFAULT_ZONE = "/sys/class/powercap/intel-rapl:0"  # package 0


class RaplMeter(Meter):
    name = "rapl"
    cumulative = True
    default_rate_hz = 20.0
    spec_keys = ("sysfs_root",)

    def __init__(self, sysfs_root: str = DEFAULT_ZONE) -> None:
        super().__init__()
        self.dir = sysfs_root
        self.path = os.path.join(self.dir, "energy_uj")
        if not os.path.exists(self.path):
            raise EdgeferError(f"RAPL meter path missing: {self.path}")
        try:
            self.read()
        except PermissionError:
            raise EdgeferError(
                f"RAPL counter not readable: {self.path}", hint="root only since Linux 5.10; run as root or chmod a+r it"
            )
        max_uj = read_text(os.path.join(self.dir, "max_energy_range_uj"))
        self.max_range_j = (int(max_uj) if max_uj and max_uj.isdigit() else 0) * 1e-6
        self.rail = read_text(os.path.join(self.dir, "name")) or os.path.basename(self.dir)

    def read(self) -> float:
        with open(self.path) as f:
            return int(f.read().strip()) * 1e-6

    def unwrap(self, values: list[float]) -> list[float]:
        """Add max_energy_range each time the counter goes backwards (it wrapped)."""
        out, offset = [], 0.0
        for prev, cur in zip([None, *values], values):
            if prev is not None and cur < prev and self.max_range_j > 0:
                offset += self.max_range_j
            out.append(cur + offset)
        return out

    def describe(self) -> str:
        return f"rapl ({self.dir})"
