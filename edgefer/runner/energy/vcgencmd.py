"""Raspberry Pi 5 PMIC: `vcgencmd pmic_read_adc`, power = sum over rails of V x I.

The PMIC rails cover the SoC, RAM and on-board supplies, not USB peripherals or the 5 V input
itself. Each sample spawns vcgencmd (~10 ms), so the default rate is modest.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from edgefer.errors import EdgeferError
from edgefer.runner.energy.base import Meter

# "  3V3_SYS_A current(1)=0.05172192A"  /  "  3V3_SYS_V volt(9)=3.31159000V"
_LINE = re.compile(r"^\s*(\S+)_([AV])\s+\w+\(\d+\)=([-+0-9.eE]+)[AV]\s*$")


def parse_pmic_adc(text: str) -> dict[str, tuple[float, float]]:
    """rail -> (volts, amps) for rails that have both a voltage and a current reading."""
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            rail, kind, value = m.group(1), m.group(2), float(m.group(3))
            (amps if kind == "A" else volts)[rail] = value
    return {r: (volts[r], amps[r]) for r in sorted(volts.keys() & amps.keys())}


class VcgencmdMeter(Meter):
    name = "vcgencmd"
    cumulative = False
    default_rate_hz = 5.0
    spec_keys = ("command",)

    def __init__(self, command: list[str] | None = None) -> None:
        super().__init__()
        argv = list(command or ["vcgencmd", "pmic_read_adc"])
        exe = shutil.which(argv[0])
        if exe is None:
            raise EdgeferError(f"vcgencmd meter path missing: '{argv[0]}' not found")
        self.argv = [exe, *argv[1:]]
        try:
            rails = parse_pmic_adc(self._query())
        except (OSError, subprocess.SubprocessError) as exc:
            raise EdgeferError(f"'{' '.join(argv)}' failed: {exc}")
        if not rails:
            raise EdgeferError(f"'{' '.join(argv)}' printed no rail readings (needs a Raspberry Pi 5)")
        self.rail = f"PMIC sum of {len(rails)} rails"

    def _query(self) -> str:
        return subprocess.run(self.argv, capture_output=True, text=True, timeout=5, check=True).stdout

    def read(self) -> float:
        return sum(v * a for v, a in parse_pmic_adc(self._query()).values())
