"""Energy meters (device side: stdlib only).

`open_meter(spec)` builds the meter a target profile or the --energy flag names; `auto_meter()`
probes the usual places. Specs are the target profile's `energy:` block as a dict: {"type": "rapl"|"hwmon"|"vcgencmd"|
"android"|"external", "sysfs_root": ..., "rail": ..., "command": [...], "sample_rate_hz": ...}.
`METERS` is the registry (edgefer.runner.registry) of meter types; each meter class says which
spec keys it takes (`Meter.spec_keys`).
"""

from __future__ import annotations

from typing import Any

from edgefer.errors import EdgeferError
from edgefer.runner.energy.base import Meter, Sampler, integrate
from edgefer.runner.registry import Registry

METERS = Registry("energy meter type")
METERS.register("rapl", "edgefer.runner.energy.rapl:RaplMeter")
METERS.register("hwmon", "edgefer.runner.energy.hwmon:HwmonMeter")
METERS.register("vcgencmd", "edgefer.runner.energy.vcgencmd:VcgencmdMeter")
METERS.register("android", "edgefer.runner.energy.android:AndroidMeter")
METERS.register("external", "edgefer.runner.energy.external:ExternalMeter")
METER_TYPES = METERS.names()
_AUTO_ORDER = ("rapl", "hwmon", "vcgencmd", "android")  # what auto_meter probes (external needs a command)


def open_meter(spec: dict[str, Any]) -> Meter:
    """Meter for a spec; a missing sensor path or command raises EdgeferError naming it."""
    cls = METERS.get(str(spec.get("type")))
    return cls(**{k: spec[k] for k in cls.spec_keys if spec.get(k) is not None})


def auto_meter() -> tuple[Meter | None, str | None]:
    """First meter that works here, or (None, why none did)."""
    tried = []
    for kind in _AUTO_ORDER:
        try:
            return open_meter({"type": kind}), None
        except EdgeferError as exc:
            tried.append(exc.one_line())
    return None, "no energy sensor readable on this board (" + "; ".join(tried) + ")"


__all__ = ["Meter", "Sampler", "integrate", "open_meter", "auto_meter", "METERS", "METER_TYPES"]
