"""Android / Linux battery fuel gauge: power_supply current_now x voltage_now.

The kernel ABI says µA and µV, but some vendors report mA/mV and either sign for discharge:
units are normalised by magnitude (or set explicitly) and the sign is dropped. A charging
battery does not measure consumption, so that is refused.
"""

from __future__ import annotations

import os

from edgefer.errors import EdgeferError
from edgefer.runner.energy.base import Meter
from edgefer.runner.files import read_text

DEFAULT_SUPPLY = "/sys/class/power_supply/battery"


def to_volts(raw: float, unit: str | None = None) -> float:
    if unit:
        return raw * {"uv": 1e-6, "mv": 1e-3, "v": 1.0}[unit.lower()]
    v = abs(raw)
    return raw * (1e-6 if v > 1e5 else 1e-3 if v > 100 else 1.0)  # 3.8e6 µV, 3800 mV, 3.8 V


def to_amps(raw: float, unit: str | None = None) -> float:
    if unit:
        return raw * {"ua": 1e-6, "ma": 1e-3, "a": 1.0}[unit.lower()]
    # phones draw 50 mA .. 5 A: |raw| >= 10000 can only be µA; smaller values are mA
    return raw * (1e-6 if abs(raw) >= 10_000 else 1e-3)


class AndroidMeter(Meter):
    name = "android"
    cumulative = False
    default_rate_hz = 10.0
    spec_keys = ("sysfs_root",)

    def __init__(self, sysfs_root: str = DEFAULT_SUPPLY, current_unit: str | None = None,
                 voltage_unit: str | None = None) -> None:
        super().__init__()
        self.dir = sysfs_root
        supply = os.path.basename(sysfs_root.rstrip("/"))
        self._cur, self._volt = os.path.join(self.dir, "current_now"), os.path.join(self.dir, "voltage_now")
        for p in (self._cur, self._volt):
            if not os.path.exists(p):
                raise EdgeferError(f"android meter path missing: {p}")
        status = self._status()
        if status in ("charging", "full"):
            raise EdgeferError(f"{supply} is {status}: unplug the charger to measure consumption from the battery")
        self.current_unit, self.voltage_unit = current_unit, voltage_unit
        self.rail = supply
        self.read()

    def _status(self) -> str | None:
        status = read_text(os.path.join(self.dir, "status"))
        return status.lower() if status is not None else None

    def read(self) -> float:
        with open(self._cur) as fc, open(self._volt) as fv:
            amps = to_amps(float(fc.read().strip()), self.current_unit)
            volts = to_volts(float(fv.read().strip()), self.voltage_unit)
        return abs(amps) * abs(volts)

    def describe(self) -> str:
        return f"android ({self.dir})"
