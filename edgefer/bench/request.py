"""A caller's BenchSettings resolved against the target profile, once, into each artifact's settings.

In the request a value left None means "the target profile's `bench:` default"; the energy mode
(auto/measure/estimate/none) becomes the runner's meter spec; the runtime, precision and
accelerator fields are chosen per artifact (bench()'s runtime=/precision=/accel= arguments, the
manifest, the profile) and so must be unset in the request. Every value is checked by
`BenchSettings.validate()`: the request before anything is converted or deployed, each resolved
setting before the first repeat runs.
"""

from __future__ import annotations

from typing import Any

from edgefer.bench.jobs import Job
from edgefer.errors import EdgeferError
from edgefer.runner.settings import ENERGY_MODES, PER_ARTIFACT, BenchSettings

MAX_REPEAT = 1000
MAX_LOCK_TIMEOUT_S = 7 * 24 * 3600


def check_request(request: BenchSettings | None) -> BenchSettings:
    """The caller's settings (None: all the profile's), every set value in range; one-line errors."""
    request = request if request is not None else BenchSettings()
    if not isinstance(request, BenchSettings):
        raise EdgeferError(f"bench settings must be an edgefer BenchSettings, got {type(request).__name__}")
    chosen = [name for name in PER_ARTIFACT if getattr(request, name) not in (None, 0)]
    if chosen:
        raise EdgeferError(f"BenchSettings.{chosen[0]} is chosen per artifact; give bench() runtime=, "
                           f"precision= or accel= instead")
    return request.validate(resolved=False)


def check_repeat(repeat: Any) -> int:
    """--repeat (bench, reproduce, study, pipeline): independent runner processes per artifact."""
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise EdgeferError(f"--repeat must be an integer between 1 and {MAX_REPEAT}, got {repeat!r}")
    return repeat


def check_lock_timeout(timeout: Any) -> float:
    """--lock-timeout: how long to wait for a busy board."""
    number = isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
    if not number or not 0 <= timeout <= MAX_LOCK_TIMEOUT_S:
        raise EdgeferError(f"--lock-timeout must be between 0 and {MAX_LOCK_TIMEOUT_S} seconds, "
                           f"got {timeout!r}")
    return timeout


def energy_setting(mode: Any, target: Any, nominal_power_w: float | None) -> tuple[Any, float | None]:
    """--energy mode -> (runner energy argument, nominal power: the request's, else the profile's)."""
    nominal = nominal_power_w if nominal_power_w is not None else target.energy.nominal_power_w
    if mode is None or isinstance(mode, dict) or mode in ("none", "estimate"):
        return mode or "none", nominal  # a meter spec given by a Python caller is used as given
    if mode not in ENERGY_MODES:
        raise EdgeferError(f"invalid --energy '{mode}' (choose from: {', '.join(ENERGY_MODES)})")
    meter = target.energy.meter_spec()
    if mode == "measure" and meter.get("type") == "none":
        raise EdgeferError(f"target '{target.name}' has no energy meter; use --energy estimate or none")
    # auto: a profile meter that is missing here gives energy null with the reason; measure: an error
    return {**meter, "optional": mode == "auto"}, nominal


def resolve_settings(request: BenchSettings, job: Job, tgt: Any, runtime: str | None,
                     accel: tuple[list[str] | None, dict[str, Any] | None], counting: bool) -> BenchSettings:
    """One job's settings: the request's values, else the target profile's `bench:` defaults;
    `accel` = (onnxruntime provider specs, runner accel options) from edgefer.bench.accel_choice.job_accel;
    `counting`: whether guest instructions are counted (edgefer.bench.instructions.counting_target)."""
    providers, accel_options = accel
    d = tgt.bench
    is_tflite = job.path.endswith(".tflite")
    energy, nominal = energy_setting(request.energy, tgt, request.nominal_power_w)

    def unset(value: Any, default: Any) -> Any:
        return default if value is None else value

    return request.with_(
        runs=unset(request.runs, d.runs), warmup=unset(request.warmup, d.warmup),
        min_seconds=unset(request.min_seconds, d.min_seconds),
        cooldown_s=unset(request.cooldown_s, d.cooldown_s),
        threads=unset(request.threads, d.threads or (tgt.runtimes.tflite.threads if is_tflite else None)),
        cpus=request.cpus or (tuple(d.cpus) if d.cpus else None), runtime=runtime,
        providers=tuple(providers) if providers else None,
        xnnpack=tgt.runtimes.tflite.xnnpack if is_tflite else None, precision=job.precision,
        energy=energy, nominal_power_w=nominal, accel=accel_options, count_instructions=counting,
    ).validate()
