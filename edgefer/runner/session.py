"""One benchmark repeat -> one report dict (the schema in docs/ARCHITECTURE.md).

Device side. The same function runs on every target, in its own runner process
(`python -m edgefer.runner bench`): on a board, on the emulated board and, as a child process of
edgefer, on the local machine. An interrupt (Ctrl-C, SIGTERM) or a crash after timing started
returns the report with the samples measured so far and partial=true.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.runner import envinfo
from edgefer.runner.files import sha256_file
from edgefer.runner.loadgen import LoadResult, ProgressFn, run_load
from edgefer.runner.repeats import SCHEMA_VERSION, finish_report, new_repeat
from edgefer.runner.resources import CpuWindow, peak_rss_mb, rss_mb, thread_count
from edgefer.runner.runtimes import Runtime, open_runtime, preload_runtime
from edgefer.runner.settings import BenchSettings

RUNTIME_MODULES = ("onnxruntime", "ai-edge-litert", "tflite-runtime")


def artifact_info(path: str, precision: str | None = None) -> dict[str, Any]:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = ext if ext in ("onnx", "tflite") else "torch"
    if precision is None:  # only from an unambiguous file name; otherwise unknown (null)
        low = os.path.basename(path).lower()
        precision = next((p for p in ("int8", "fp16", "fp32") if p in low), None)
    is_file = os.path.isfile(path)
    return {"path": os.path.abspath(path) if is_file else path, "file": os.path.basename(path.rstrip("/")),
            "format": fmt, "precision": precision,
            "size_bytes": os.path.getsize(path) if is_file else None,
            "sha256": sha256_file(path) if is_file else None}


def _open_energy(energy: str | dict[str, Any] | None, nominal_power_w: float | None, rate_hz: float | None):
    """-> (EnergyRecorder | None, report-if-no-recorder | None)."""
    from edgefer.runner.energy import auto_meter, open_meter
    from edgefer.runner.energy.recorder import EnergyRecorder, unavailable

    if isinstance(energy, str) and energy.strip().startswith("{"):
        try:
            energy = json.loads(energy)
        except json.JSONDecodeError as exc:
            raise EdgeferError(f"--energy is not valid JSON: {exc}")
    if energy in (None, "none"):
        return None, unavailable("energy measurement disabled (--energy none)")
    if energy == "estimate":
        if not nominal_power_w:
            raise EdgeferError("--energy estimate needs a nominal power (--nominal-power-w or the profile's energy.nominal_power_w)")
        return None, None  # computed after the run from the window
    if energy == "auto":
        meter, why = auto_meter()
        if meter is None:
            return None, unavailable(why or "no energy sensor")
        return EnergyRecorder(meter, rate_hz), None
    if isinstance(energy, dict):
        if str(energy.get("type", "")).lower() == "none":
            return None, unavailable(energy.get("notes") or "the target profile declares no energy sensor")
        try:
            meter = open_meter(energy)
        except EdgeferError as exc:
            if not energy.get("optional"):  # asked for explicitly: a missing sensor is the user's error
                raise
            return None, unavailable(f"profile meter not usable here: {exc.one_line()}")
        return EnergyRecorder(meter, rate_hz or energy.get("sample_rate_hz")), None
    raise EdgeferError(f"invalid --energy '{energy}' (auto, none, estimate or a meter spec as JSON)")


def run_bench(
    artifact: str,
    *,
    runtime: str | None = None,
    opener: Callable[[], Runtime] | None = None,
    runs: int = 100,
    warmup: int = 10,
    min_seconds: float = 0.0,
    batch_size: int = 1,
    threads: int | None = None,
    cpus: list[int] | None = None,
    cooldown_s: float = 0.0,
    providers: list[str] | None = None,
    xnnpack: bool | None = None,
    input_shape: list[int] | None = None,
    energy: str | dict[str, Any] | None = "auto",
    nominal_power_w: float | None = None,
    energy_rate_hz: float | None = None,
    idle_s: float = 2.0,
    precision: str | None = None,
    accel: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
    on_progress: ProgressFn | None = None,
    repeat_index: int = 0,
    op_profile: int = 0,
    count_instructions: bool = False,
) -> dict[str, Any]:
    """Benchmark one artifact in this process: one repeat, as a report with one `repeats` entry.

    User errors raise EdgeferError before any timing starts. The host merges the reports of
    several repeats (each its own runner process) with `edgefer.runner.repeats.merge_repeats`.
    op_profile=N > 0: after the timed runs, N separate profiled runs fill report["op_profile"]
    (edgefer.runner.opprofile); the latency statistics never include them.
    """
    if isinstance(op_profile, bool) or not isinstance(op_profile, int) or not 0 <= op_profile <= 100_000:
        raise EdgeferError(f"--op-profile must be a number of profiled runs >= 1, got {op_profile}")
    s = BenchSettings(
        runs=runs, warmup=warmup, min_seconds=min_seconds, batch_size=batch_size, threads=threads,
        cpus=tuple(cpus) if cpus else None, cooldown_s=cooldown_s, runtime=runtime,
        providers=tuple(providers) if providers else None, xnnpack=xnnpack,
        input_shape=tuple(input_shape) if input_shape else None, precision=precision, energy=energy,
        nominal_power_w=nominal_power_w, energy_rate_hz=energy_rate_hz, idle_s=idle_s, accel=accel,
    ).validate()
    warnings: list[str] = []
    n_cpus = os.cpu_count() or 1
    if threads is not None and threads > n_cpus:
        warnings.append(f"--threads {threads} exceeds the {n_cpus} CPUs of this device: threads share cores")
    report = _empty_report(artifact, s, target, warnings)
    rec = new_repeat(repeat_index)
    report["repeats"] = [rec]
    recorder, energy_report = _open_energy(energy, nominal_power_w, energy_rate_hz)
    counter = None
    if count_instructions:  # guest instruction counts under the emulator's plugin (issue 14)
        from edgefer.runner.icount import InstructionCounter

        counter = InstructionCounter.open()

    old_affinity = None
    if cpus:
        try:
            old_affinity = os.sched_getaffinity(0)
            os.sched_setaffinity(0, cpus)  # before the runtime creates its threads: they inherit it
        except (AttributeError, OSError, ValueError) as exc:
            raise EdgeferError(f"cannot pin to CPUs {cpus}: {exc}")
    result = LoadResult()
    cpu = CpuWindow()
    try:
        if opener is None:
            preload_runtime(artifact, runtime)  # the library's own memory is not the model's
        rec["rss_before_load_mb"] = rss_mb()
        t0 = time.perf_counter_ns()
        rt = opener() if opener is not None else open_runtime(artifact, runtime, threads, **_runtime_options(s))
        rec["load_ms"] = (time.perf_counter_ns() - t0) / 1e6
        report["runtime"] = rt.describe()
        model_info = getattr(rt, "model_info", None)
        if callable(model_info):  # the torch reference knows its params/MACs; file runtimes do not
            report["model"] = model_info()
        feeds = rt.make_inputs(batch_size, seed=0)
        run = rt.run

        if cooldown_s > 0:
            time.sleep(cooldown_s)
        if recorder is not None:
            recorder.idle(idle_s)
        rec["temperatures_before"] = envinfo.temperatures()
        if recorder is not None:
            recorder.start()
        call = lambda: run(feeds)  # noqa: E731
        if counter is not None:
            counter.calibrate()
            call = counter.wrap(call)
        try:
            run_load(call, runs, warmup, min_seconds, on_progress, result, before_timed=cpu.start)
        except (KeyboardInterrupt, SystemExit) as exc:
            rec["partial"], rec["partial_reason"] = True, f"interrupted ({type(exc).__name__})"
        except EdgeferError:
            raise
        except Exception as exc:  # a runtime crash mid-run: keep what was measured
            rec["partial"], rec["partial_reason"] = True, f"crashed: {type(exc).__name__}: {exc}"
        finally:
            n_inf = len(result.samples_ns) * batch_size
            if recorder is not None:
                energy_report = recorder.finish(result.window_start_ns, result.window_end_ns, n_inf)
            elif energy == "estimate" and result.window_start_ns and result.window_end_ns and n_inf:
                from edgefer.runner.energy.recorder import estimated

                energy_report = estimated(float(nominal_power_w or 0), (result.window_end_ns - result.window_start_ns) * 1e-9, n_inf)
            if result.window_start_ns is not None:
                rec["cpu_utilization_pct"] = cpu.stop()
            rec["threads"] = thread_count()
            if counter is not None:
                report["instructions"] = counter.finish(1 + warmup, len(result.samples_ns), batch_size)
        if op_profile and not rec["partial"]:  # after timing, energy and CPU windows closed; still pinned
            from edgefer.runner.opprofile import profile_ops

            report["op_profile"] = profile_ops(rt, feeds, op_profile, warmup=min(max(warmup, 1), 3))
    finally:
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
    rec["temperatures_after"] = envinfo.temperatures()
    rec["throttling"] = envinfo.throttling()
    rec["peak_rss_mb"] = peak_rss_mb()
    if rec["peak_rss_mb"] is not None and rec["rss_before_load_mb"] is not None:
        rec["model_rss_mb"] = max(0.0, rec["peak_rss_mb"] - rec["rss_before_load_mb"])
    accel_report = rt.accelerators(count_nodes=not rec["partial"]) if rt is not None else None  # after timing, peak RSS
    if accel_report is not None:
        report["accelerators"] = accel_report
    rec["first_inference_ms"] = result.first_inference_ns / 1e6 if result.first_inference_ns is not None else None
    rec["samples_ns"] = list(result.samples_ns)
    if rec["partial"] and energy_report is None:
        from edgefer.runner.energy.recorder import unavailable

        energy_report = unavailable("run interrupted before any timed sample")
    rec["energy"] = energy_report
    return finish_report(report)


def _runtime_options(s: BenchSettings) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if s.providers:
        options["providers"] = list(s.providers)
    if s.xnnpack is not None:
        options["xnnpack"] = s.xnnpack
    if s.input_shape:
        options["input_shape"] = list(s.input_shape)
    options.update(s.accel or {})  # accelerator, dispatch_library, allow_fallback (edgefer.runner.accel)
    return options


def _empty_report(artifact: str, s: BenchSettings, target: dict[str, Any] | None, warnings: list[str]) -> dict[str, Any]:
    settings = s.to_dict()
    return {
        "schema_version": SCHEMA_VERSION, "kind": "edgefer.bench.api.report",
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "edgefer_version": __version__,
        "partial": False, "partial_reason": None,
        "artifact": artifact_info(artifact, s.precision),
        "model": {"name": None, "params": None, "macs": None, "flops": None}, "manifest": None,
        "target": target,
        "environment": envinfo.fingerprint({m: envinfo.module_version(m) for m in RUNTIME_MODULES}),
        "runtime": None,
        "settings": {k: settings[k] for k in ("runs", "warmup", "min_seconds", "batch_size", "threads", "cpus",
                                              "cooldown_s", "energy", "idle_s", "input_shape")} | {"repeat": 1},
        "timing": {"load_ms": None, "first_inference_ms": None, "samples_ns": []},
        "statistics": None, "resources": {}, "energy": None, "accuracy": None, "label": None,
        "repeats": [], "exclusive": None, "warnings": warnings,
    }
