"""Hardware-aware warnings for a valid profile (`edgefer targets check`).

A profile can be schema-valid and still set up a misleading benchmark; each warning says
what will happen and what to do about it.
"""

from __future__ import annotations

from pathlib import Path

from edgefer.targets.schema import Target


def _cpu_warnings(t: Target) -> list[str]:
    out: list[str] = []
    if t.arch == "aarch64" and not t.cpu.has("asimddp"):
        out.append(
            "CPU has no dot-product instructions (asimddp/SDOT): int8 models are often no faster, "
            "or slower, than fp32 here; benchmark both before choosing int8"
        )
        if t.runtimes.onnxruntime.int8_activation == "S8":
            out.append("runtimes.onnxruntime.int8_activation is S8 but the CPU lacks SDOT: U8 is usually faster")
    if t.arch == "x86_64" and t.cpu.features and not (t.cpu.has("avx512_vnni") or t.cpu.has("avx_vnni")):
        out.append("CPU has no VNNI: int8 speed-ups over fp32 are usually small on this x86 CPU")
    threads = t.bench.threads or t.runtimes.tflite.threads
    if threads and threads > t.cpu.cores:
        out.append(f"{threads} threads requested but the CPU has {t.cpu.cores} cores: oversubscription skews timings")
    if t.bench.cpus and max(t.bench.cpus) >= t.cpu.cores:
        out.append(f"bench.cpus {t.bench.cpus} names a CPU beyond the {t.cpu.cores} cores")
    return out


def _connection_warnings(t: Target) -> list[str]:
    c = t.connection
    out: list[str] = []
    if c.type == "ssh":
        if not c.strict_host_key_checking:
            out.append("strict_host_key_checking is off: a changed host key (MITM) will not be noticed")
        if c.known_hosts is None:
            out.append(
                "no known_hosts file pinned: ssh uses ~/.ssh/known_hosts, and with strict checking an unseen "
                f"host key fails; add it with: ssh-keyscan -p {c.port} {c.host} >> ~/.ssh/known_hosts (verify it)"
            )
        elif not Path(c.known_hosts).is_file():
            out.append(f"known_hosts file {c.known_hosts} does not exist (yet)")
        if c.key is not None and not Path(c.key).is_file():
            out.append(f"ssh key {c.key} does not exist (yet)")
    if c.type == "adb" and c.serial is None:
        out.append("no adb serial: works only while exactly one device is attached")
    return out


def _measurement_warnings(t: Target) -> list[str]:
    out: list[str] = []
    if t.emulated:
        out.append(
            f"emulated board ({t.emulator}): timings are for function and parity, never for speed; "
            "reports are labelled emulated"
        )
    e = t.energy
    if e.type == "none" and e.nominal_power_w is None and not t.emulated:
        out.append("no energy meter and no nominal_power_w: energy will be reported as unavailable")
    elif e.type == "none" and e.nominal_power_w is not None:
        out.append(f"no energy meter: energy will be an estimate from nominal_power_w={e.nominal_power_w} W, labelled estimated")
    if e.type == "android":
        out.append("android battery meter: unplug USB charging (or use wireless adb) or the readings mask the draw")
    if not t.emulated and t.bench.runs < 30 and t.bench.min_seconds < 5:
        out.append(f"bench.runs={t.bench.runs} with min_seconds={t.bench.min_seconds}: too few samples for stable percentiles")
    return out


def _accelerator_warnings(t: Target) -> list[str]:
    from edgefer.targets.accel_checks import accelerator_warnings

    return accelerator_warnings(t)


def check_target(t: Target) -> list[str]:
    """Warnings (possibly none) about how this profile will measure."""
    warnings = _cpu_warnings(t) + _connection_warnings(t) + _measurement_warnings(t) + _accelerator_warnings(t)
    if t.path and Path(t.path).stem != t.name:
        warnings.append(f"name {t.name!r} differs from the file name {Path(t.path).name}: `--target "
            f"{Path(t.path).stem}` will not find it by name")
    return warnings
