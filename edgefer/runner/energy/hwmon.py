"""Power rails under sysfs: INA3221 and friends (Jetson), by rail label, e.g. VDD_IN / POM_5V_IN.

`sysfs_root` may be a hwmon class directory (hwmon* inside), one hwmonN directory, or an IIO
device of the older Jetson `ina3221x` driver. Per channel k the meter reads, first found:
hwmon power{k}_input (µW), hwmon in{k}_input (mV) x curr{k}_input (mA),
IIO in_power{k}_input (mW), IIO in_voltage{k}_input (mV) x in_current{k}_input (mA).
"""

from __future__ import annotations

import glob
import os

from edgefer.errors import EdgeferError
from edgefer.runner.energy.base import Meter
from edgefer.runner.files import read_text

DEFAULT_ROOT = "/sys/class/hwmon"
DEFAULT_RAILS = ("VDD_IN", "POM_5V_IN")  # whole-module input rails of Jetson boards


def _channels(d: str) -> dict[str, int]:
    """rail label -> channel number in one sensor directory (hwmon *_label or IIO rail_name_k)."""
    found: dict[str, int] = {}
    for f in sorted(glob.glob(os.path.join(d, "*_label")) + glob.glob(os.path.join(d, "rail_name_*"))):
        label = read_text(f)
        digits = "".join(c for c in os.path.basename(f).replace("_label", "") if c.isdigit())
        if label and digits:
            found.setdefault(label, int(digits))
    return found


# (power file, scale to W) or (voltage file, current file, scale to W) per channel k
_READERS = (
    ("power{k}_input", 1e-6),
    ("in{k}_input", "curr{k}_input", 1e-6),
    ("in_power{k}_input", 1e-3),
    ("in_voltage{k}_input", "in_current{k}_input", 1e-6),
)


class HwmonMeter(Meter):
    name = "hwmon"
    cumulative = False
    default_rate_hz = 20.0
    spec_keys = ("sysfs_root", "rail")

    def __init__(self, sysfs_root: str = DEFAULT_ROOT, rail: str | None = None) -> None:
        super().__init__()
        if not os.path.isdir(sysfs_root):
            raise EdgeferError(f"hwmon meter path missing: {sysfs_root}")
        dirs = [sysfs_root, *sorted(glob.glob(os.path.join(sysfs_root, "hwmon*")))]
        wanted = [rail] if rail else list(DEFAULT_RAILS)
        for d in dirs:
            labels = {k.lower(): (k, v) for k, v in _channels(d).items()}
            for w in wanted:
                if w.lower() in labels:
                    self.rail, k = labels[w.lower()]
                    self.dir = d
                    self._files = self._reader(d, k)
                    self.read()
                    return
        raise EdgeferError(f"hwmon: no rail {' or '.join(wanted)} found under {sysfs_root}")

    @staticmethod
    def _reader(d: str, k: int) -> tuple:
        for spec in _READERS:
            paths = [os.path.join(d, p.format(k=k)) for p in spec[:-1]]
            if all(os.path.exists(p) for p in paths):
                return (*paths, spec[-1])
        raise EdgeferError(f"hwmon: channel {k} in {d} has no power or voltage+current input")

    def read(self) -> float:
        *paths, scale = self._files
        value = 1.0
        for p in paths:
            with open(p) as f:
                value *= int(f.read().strip())
        return value * scale

    def describe(self) -> str:
        return f"hwmon ({self.dir})"
