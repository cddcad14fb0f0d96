"""Energy meters (device side: stdlib only).

`open_meter(spec)` builds the meter a target profile or the --energy flag names; `auto_meter()`
probes the usual places. Specs are the target profile's `energy:` block as a dict: {"type": "rapl"|"hwmon"|"vcgencmd"|
"android"|"external", "sysfs_root": ..., "rail": ..., "command": [...], "sample_rate_hz": ...}.
"""

from __future__ import annotations

from typing import Any

from edgefer.runner.energy.base import Meter, Sampler, integrate
from edgefer.errors import EdgeferError

METER_TYPES = ("rapl", "hwmon", "vcgencmd", "android", "external")
# spec keys (the target profile's `energy:` block, see edgefer.targets.schema.EnergySpec) per meter
_KEYS = {
    "rapl": ("sysfs_root",),
    "hwmon": ("sysfs_root", "rail"),
    "vcgencmd": ("command",),
    "android": ("sysfs_root",),
    "external": ("command", "rail"),
}


def open_meter(spec: dict[str, Any]) -> Meter:
    """Meter for a spec; a missing sensor path or command raises EdgeferError naming it."""
    kind = str(spec.get("type", "")).lower()
    if kind not in METER_TYPES:
        raise EdgeferError(f"unknown energy meter type '{spec.get('type')}' (choose from: {', '.join(METER_TYPES)})")
    kwargs = {k: spec[k] for k in _KEYS[kind] if spec.get(k) is not None}
    if kind == "rapl":
        from edgefer.runner.energy.rapl import RaplMeter as cls
    elif kind == "hwmon":
        from edgefer.runner.energy.hwmon import HwmonMeter as cls
    elif kind == "vcgencmd":
        from edgefer.runner.energy.vcgencmd import VcgencmdMeter as cls
    elif kind == "android":
        from edgefer.runner.energy.android import AndroidMeter as cls
    else:
        if "command" not in kwargs:
            raise EdgeferError("external energy meter needs a 'command' that prints watts")
        from edgefer.runner.energy.external import ExternalMeter as cls
    return cls(**kwargs)


def auto_meter() -> tuple[Meter | None, str | None]:
    """First meter that works here, or (None, why none did)."""
    tried = []
    for spec in ({"type": "rapl"}, {"type": "hwmon"}, {"type": "vcgencmd"}, {"type": "android"}):
        try:
            return open_meter(spec), None
        except EdgeferError as exc:
            tried.append(exc.one_line())
    return None, "no energy sensor readable on this board (" + "; ".join(tried) + ")"


__all__ = ["Meter", "Sampler", "integrate", "open_meter", "auto_meter", "METER_TYPES"]
