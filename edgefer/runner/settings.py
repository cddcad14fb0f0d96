"""The settings of a bench: one frozen struct from the API to the device, validated once, turned into
runner flags.

Device side (stdlib only). The same type is the request a caller hands `edgefer.bench.api.bench()`
(a value left None there means "the target profile's default"), the settings the host resolves
for each artifact against the profile (`edgefer.bench.request.resolve_settings`), the runner
flags (`to_argv()`, read back with `from_namespace()`) and the argument of the device session
(`edgefer.runner.session.run_bench`). Every default is written once, as a field default here or,
for the fields a target profile may set, in RUNNER_DEFAULTS (what the runner uses when no
profile gave a value); the CLI options of `edgefer bench` and of the runner read them from here
(`BenchSettings.default(name)`). MLPerf LoadGen's TestSettings is the model.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any

from edgefer.errors import EdgeferError

MAX_THREADS = 256  # beyond any board edgefer targets: a typo (10000) must not fork-bomb the device
MAX_RUNS = 1_000_000_000
MAX_SECONDS = 24 * 3600.0
MAX_BATCH = 4096
# auto: the meter if readable, else energy null with the reason; measure: the meter must work;
# estimate: nominal power x time; none. A meter spec (JSON object) is what the host resolves a mode to.
ENERGY_MODES = ("auto", "measure", "estimate", "none")
MAX_OP_PROFILE = 100_000
MAX_REPEAT_INDEX = 1_000_000
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


# The runner's own values for the fields a target profile may set (targets/schema.py BenchDefaults):
# on the host an unset (None) one takes the profile's value, on the device with no profile these.
RUNNER_DEFAULTS: dict[str, Any] = {"runs": 100, "warmup": 10, "min_seconds": 0.0, "cooldown_s": 0.0,
                                   "count_instructions": False}
# Chosen per artifact by bench() (its runtime=/precision=/accel= arguments and the manifest), not asked for.
PER_ARTIFACT = ("runtime", "providers", "xnnpack", "precision", "accel", "repeat_index")


@dataclass(frozen=True)
class BenchSettings:
    runs: int | None = None
    warmup: int | None = None
    min_seconds: float | None = None
    batch_size: int = 1
    threads: int | None = None
    cpus: tuple[int, ...] | None = None
    cooldown_s: float | None = None
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
    # guest instruction counts of the timed calls (emulated board, counting wrapper; edgefer.runner.icount);
    # None: the target profile's instruction_counts.default on the host, off on the device
    count_instructions: bool | None = None
    # after the timed runs, this many separate profiled runs fill report["op_profile"]
    # (edgefer.runner.opprofile); the host asks for them in the first repeat only
    op_profile: int = 0
    # which repeat of the artifact this runner process is (recorded in the report's repeats entry)
    repeat_index: int = 0

    @staticmethod
    def default(name: str) -> Any:
        """The value `name` has when nobody sets it: the field default, or the runner's for the fields
        a target profile may set."""
        if name in RUNNER_DEFAULTS:
            return RUNNER_DEFAULTS[name]
        field = next((f for f in fields(BenchSettings) if f.name == name), None)
        if field is None or field.default is MISSING:
            raise KeyError(name)
        return field.default

    def completed(self) -> "BenchSettings":
        """Unset profile-set fields replaced by the runner's defaults (a run with no target profile)."""
        return replace(self, **{k: v for k, v in RUNNER_DEFAULTS.items() if getattr(self, k) is None})

    def validate(self, resolved: bool = True) -> "BenchSettings":
        """Raise EdgeferError naming the option for any value out of type or range (None: unset, allowed).
        resolved=False: a request whose nominal power may still come from the target profile."""
        for flag, value, lo, hi, integer in (
                ("--runs", self.runs, 1, MAX_RUNS, True), ("--warmup", self.warmup, 0, MAX_RUNS, True),
                ("--min-seconds", self.min_seconds, 0, MAX_SECONDS, False),
                ("--batch-size", self.batch_size, 1, MAX_BATCH, True),
                ("--threads", self.threads, 1, MAX_THREADS, True),
                ("--cooldown", self.cooldown_s, 0, MAX_SECONDS, False),
                ("--idle-seconds", self.idle_s, 0, 3600, False),
                ("--nominal-power-w", self.nominal_power_w, 1e-6, 10_000, False),
                ("--energy-rate-hz", self.energy_rate_hz, 0.1, 100_000, False),
                ("--op-profile", self.op_profile, 0, MAX_OP_PROFILE, True),
                ("--repeat-index", self.repeat_index, 0, MAX_REPEAT_INDEX, True)):
            if value is not None:
                check_number(flag, value, lo, hi, integer)
        if self.cpus is not None:
            if not self.cpus or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in self.cpus):
                raise EdgeferError(f"--cpus must list CPU numbers >= 0, got {self.cpus!r}")
        if self.input_shape is not None and any(not isinstance(d, int) or d < 1 for d in self.input_shape):
            raise EdgeferError(f"--input-shape dimensions must be integers >= 1, got {list(self.input_shape)}")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise EdgeferError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        energy = self.energy
        if isinstance(energy, str) and energy not in ENERGY_MODES and not energy.strip().startswith("{"):
            raise EdgeferError(f"invalid --energy {energy!r} (auto, measure, estimate, none or a meter spec "
                               f"as JSON)")
        if resolved and energy == "estimate" and not self.nominal_power_w:
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
        """The runner's `bench` flags for these settings (an unset value: no flag, the runner's default)."""
        args: list[str] = []
        for flag, value in (("--runs", self.runs), ("--warmup", self.warmup),
                            ("--min-seconds", self.min_seconds), ("--batch-size", self.batch_size),
                            ("--cooldown", self.cooldown_s), ("--idle-seconds", self.idle_s),
                            ("--threads", self.threads), ("--runtime", self.runtime),
                            ("--precision", self.precision), ("--nominal-power-w", self.nominal_power_w),
                            ("--energy-rate-hz", self.energy_rate_hz)):
            if value is not None:
                args += [flag, repr(float(value)) if isinstance(value, float) else str(value)]
        for flag, value in (("--op-profile", self.op_profile), ("--repeat-index", self.repeat_index)):
            if value:  # 0 is the runner's default: left out
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
            energy = parse_json_option(energy, "--energy")
        providers = tuple(p for p in ns.providers.split(",") if p) if ns.providers else None
        return cls(
            runs=ns.runs, warmup=ns.warmup, min_seconds=ns.min_seconds, batch_size=ns.batch_size,
            threads=ns.threads, cpus=tuple(cpus) if cpus else None, cooldown_s=ns.cooldown, runtime=ns.runtime,
            providers=providers, xnnpack=ns.xnnpack, input_shape=tuple(shape) if shape else None,
            precision=ns.precision, energy=energy, nominal_power_w=ns.nominal_power_w,
            energy_rate_hz=ns.energy_rate_hz, idle_s=ns.idle_seconds,
            accel=parse_json_option(ns.accel_json, "--accel-json") if ns.accel_json else None,
            count_instructions=bool(ns.count_instructions), op_profile=ns.op_profile,
            repeat_index=ns.repeat_index,
        )


def parse_json_option(text: str, flag: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EdgeferError(f"{flag} is not valid JSON: {exc}") from None


SETTING_NAMES = tuple(f.name for f in fields(BenchSettings))
