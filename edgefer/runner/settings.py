"""The settings of one bench repeat: one frozen struct, validated once, turned into runner flags.

Device side (stdlib only). The host builds a `BenchSettings` from its options and the target
profile, `validate()`s it before any work starts (every bad value is a one-line error naming the
option), and hands it to the runner as `to_argv()`; the runner's argparse reads the same flags
back with `from_namespace()`. One type instead of the same settings retyped per layer
(MLPerf LoadGen's TestSettings is the model).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from edgefer.errors import EdgeferError

MAX_THREADS = 256  # beyond any board edgefer targets: a typo (10000) must not fork-bomb the device
MAX_RUNS = 1_000_000_000
MAX_SECONDS = 24 * 3600.0
MAX_BATCH = 4096
ENERGY_STRINGS = ("auto", "none", "estimate")
PRECISIONS = ("fp32", "int8", "fp16")


def check_number(name: str, value: Any, lo: float, hi: float, integer: bool) -> None:
    """One option value in [lo, hi] (an integer if `integer`; NaN and inf refused) or a one-line EdgeferError naming it."""
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        raise EdgeferError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise EdgeferError(f"{name} must be a finite number, got {value!r}")
    if not lo <= value <= hi:
        raise EdgeferError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")


@dataclass(frozen=True)
class BenchSettings:
    runs: int = 100
    warmup: int = 10
    min_seconds: float = 0.0
    batch_size: int = 1
    threads: int | None = None
    cpus: tuple[int, ...] | None = None
    cooldown_s: float = 0.0
    runtime: str | None = None
    providers: tuple[str, ...] | None = None
    xnnpack: bool | None = None
    input_shape: tuple[int, ...] | None = None
    precision: str | None = None
    energy: str | dict[str, Any] | None = "auto"
    nominal_power_w: float | None = None
    energy_rate_hz: float | None = None
    idle_s: float = 2.0
    # accelerator options for the runtime (edgefer.runner.accel): accelerator, dispatch_library, allow_fallback
    accel: dict[str, Any] | None = None
    # guest instruction counts of the timed calls (emulated board, counting wrapper; edgefer.runner.icount)
    count_instructions: bool = False

    def validate(self) -> "BenchSettings":
        """Raise EdgeferError naming the option for any value out of type or range."""
        check_number("--runs", self.runs, 1, MAX_RUNS, True)
        check_number("--warmup", self.warmup, 0, MAX_RUNS, True)
        check_number("--min-seconds", self.min_seconds, 0, MAX_SECONDS, False)
        check_number("--batch-size", self.batch_size, 1, MAX_BATCH, True)
        if self.threads is not None:
            check_number("--threads", self.threads, 1, MAX_THREADS, True)
        check_number("--cooldown", self.cooldown_s, 0, MAX_SECONDS, False)
        check_number("--idle-seconds", self.idle_s, 0, 3600, False)
        if self.cpus is not None:
            if not self.cpus or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in self.cpus):
                raise EdgeferError(f"--cpus must list CPU numbers >= 0, got {self.cpus!r}")
        if self.input_shape is not None and any(not isinstance(d, int) or d < 1 for d in self.input_shape):
            raise EdgeferError(f"--input-shape dimensions must be integers >= 1, got {list(self.input_shape)}")
        if self.nominal_power_w is not None:
            check_number("--nominal-power-w", self.nominal_power_w, 1e-6, 10_000, False)
        if self.energy_rate_hz is not None:
            check_number("--energy-rate-hz", self.energy_rate_hz, 0.1, 100_000, False)
        if self.precision is not None and self.precision not in PRECISIONS:
            raise EdgeferError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if isinstance(self.energy, str) and self.energy not in ENERGY_STRINGS and not self.energy.strip().startswith("{"):
            raise EdgeferError(f"invalid --energy {self.energy!r} (auto, none, estimate or a meter spec as JSON)")
        if self.energy == "estimate" and not self.nominal_power_w:
            raise EdgeferError("--energy estimate needs a nominal power (--nominal-power-w or the profile's "
                               "energy.nominal_power_w)")
        return self

    def with_(self, **changes: Any) -> "BenchSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accel"] = dict(self.accel) if self.accel else None
        for key in ("cpus", "providers", "input_shape"):
            if d[key] is not None:
                d[key] = list(d[key])
        return d

    def to_argv(self) -> list[str]:
        """The runner's `bench` flags for these settings."""
        args = ["--runs", str(self.runs), "--warmup", str(self.warmup), "--min-seconds", repr(float(self.min_seconds)),
                "--batch-size", str(self.batch_size), "--cooldown", repr(float(self.cooldown_s)),
                "--idle-seconds", repr(float(self.idle_s))]
        for flag, value in (("--threads", self.threads), ("--runtime", self.runtime), ("--precision", self.precision),
                            ("--nominal-power-w", self.nominal_power_w), ("--energy-rate-hz", self.energy_rate_hz)):
            if value is not None:
                args += [flag, str(value)]
        if self.cpus:
            args += ["--cpus", ",".join(map(str, self.cpus))]
        if self.providers:
            args += ["--providers", ",".join(self.providers)]
        if self.xnnpack is not None:
            args.append("--xnnpack" if self.xnnpack else "--no-xnnpack")
        if self.input_shape:
            args += ["--input-shape", ",".join(map(str, self.input_shape))]
        if self.count_instructions:
            args.append("--count-instructions")
        if self.accel:
            args += ["--accel-json", json.dumps(self.accel, separators=(",", ":"))]
        energy = self.energy if self.energy is not None else "none"
        args += ["--energy", json.dumps(energy, separators=(",", ":")) if isinstance(energy, dict) else str(energy)]
        return args

    @classmethod
    def from_namespace(cls, ns: Any) -> "BenchSettings":
        """From the runner's parsed arguments (argparse.Namespace with the same attribute names)."""
        from edgefer.runner.options import parse_cpus, parse_shape

        cpus = parse_cpus(ns.cpus)
        shape = parse_shape(ns.input_shape)
        energy: Any = ns.energy
        if isinstance(energy, str) and energy.strip().startswith("{"):
            try:
                energy = json.loads(energy)
            except json.JSONDecodeError as exc:
                raise EdgeferError(f"--energy is not valid JSON: {exc}") from None
        accel = None
        if getattr(ns, "accel_json", None):
            try:
                accel = json.loads(ns.accel_json)
            except json.JSONDecodeError as exc:
                raise EdgeferError(f"--accel-json is not valid JSON: {exc}") from None
        return cls(
            accel=accel, count_instructions=bool(getattr(ns, "count_instructions", False)), runs=ns.runs, warmup=ns.warmup, min_seconds=ns.min_seconds, batch_size=ns.batch_size, threads=ns.threads,
            cpus=tuple(cpus) if cpus else None, cooldown_s=ns.cooldown, runtime=ns.runtime,
            providers=tuple(p for p in ns.providers.split(",") if p) if ns.providers else None, xnnpack=ns.xnnpack,
            input_shape=tuple(shape) if shape else None, precision=ns.precision, energy=energy,
            nominal_power_w=ns.nominal_power_w, energy_rate_hz=ns.energy_rate_hz, idle_s=ns.idle_seconds,
        )


SETTING_NAMES = tuple(f.name for f in fields(BenchSettings))
