"""One benchmark run -> one report dict (the schema in docs/ARCHITECTURE.md).

Device side. The same function runs on the board (`python -m edgefer.runner bench`) and in-process
on the host for local targets. An interrupt (Ctrl-C, SIGTERM) or a crash after timing started
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
from edgefer.runner.resources import CpuWindow, peak_rss_mb
from edgefer.runner.runtimes import Runtime, open_runtime
from edgefer.runner.stats import summarize

SCHEMA_VERSION = "1"
RUNTIME_MODULES = ("onnxruntime", "ai-edge-litert", "tflite-runtime")


def artifact_info(path: str, precision: str | None = None) -> dict[str, Any]:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = ext if ext in ("onnx", "tflite") else "torch"
    if precision is None:  # only from an unambiguous file name; otherwise unknown (null)
        low = os.path.basename(path).lower()
        precision = "int8" if "int8" in low else "fp32" if "fp32" in low else None
    is_file = os.path.isfile(path)
    return {"path": os.path.abspath(path) if is_file else path, "file": os.path.basename(path.rstrip("/")),
            "format": fmt, "precision": precision,
            "size_bytes": os.path.getsize(path) if is_file else None,
            "sha256": sha256_file(path) if is_file else None}


def _open_energy(energy: str | dict[str, Any] | None, nominal_power_w: float | None, rate_hz: float | None):
    """-> (EnergyRecorder | None, report-if-no-recorder | None)."""
    from edgefer.energy import auto_meter, open_meter
    from edgefer.energy.recorder import EnergyRecorder, unavailable

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
    target: dict[str, Any] | None = None,
    on_progress: ProgressFn | None = None,
    count_instructions: bool = False,
) -> dict[str, Any]:
    """Benchmark one artifact. User errors raise EdgeferError before any timing starts."""
    if runs < 1 or warmup < 0 or batch_size < 1 or min_seconds < 0:
        raise EdgeferError("--runs and --batch-size must be >= 1, --warmup and --min-seconds >= 0")
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "kind": "edgefer.bench.report",
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "edgefer_version": __version__,
        "partial": False, "partial_reason": None,
        "artifact": artifact_info(artifact, precision),
        "model": {"name": None, "params": None, "macs": None, "flops": None}, "manifest": None,
        "target": target,
        "environment": envinfo.fingerprint({m: envinfo.module_version(m) for m in RUNTIME_MODULES}),
        "runtime": None,
        "settings": {"runs": runs, "warmup": warmup, "min_seconds": min_seconds, "batch_size": batch_size,
                     "threads": threads, "cpus": cpus, "cooldown_s": cooldown_s,
                     "energy": energy if isinstance(energy, (str, dict)) or energy is None else str(energy),
                     "idle_s": idle_s, "input_shape": input_shape},
        "timing": {"load_ms": None, "first_inference_ms": None, "samples_ns": []},
        "statistics": None, "resources": {"peak_rss_mb": None, "cpu_utilization_pct": None},
        "energy": None, "accuracy": None, "label": None,
    }
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
        options: dict[str, Any] = {}
        if providers:
            options["providers"] = providers
        if xnnpack is not None:
            options["xnnpack"] = xnnpack
        if input_shape:
            options["input_shape"] = input_shape
        t0 = time.perf_counter_ns()
        rt = opener() if opener is not None else open_runtime(artifact, runtime, threads, **options)
        report["timing"]["load_ms"] = (time.perf_counter_ns() - t0) / 1e6
        report["runtime"] = rt.describe()
        feeds = rt.make_inputs(batch_size, seed=0)
        run = rt.run

        if cooldown_s > 0:
            time.sleep(cooldown_s)
        if recorder is not None:
            recorder.idle(idle_s)
        report["environment"]["temperatures_before"] = envinfo.temperatures()
        if recorder is not None:
            recorder.start()
        call = lambda: run(feeds)  # noqa: E731
        if counter is not None:
            counter.calibrate()
            call = counter.wrap(call)
        try:
            run_load(call, runs, warmup, min_seconds, on_progress, result, before_timed=cpu.start)
        except (KeyboardInterrupt, SystemExit) as exc:
            report["partial"], report["partial_reason"] = True, f"interrupted ({type(exc).__name__})"
        except EdgeferError:
            raise
        except Exception as exc:  # a runtime crash mid-run: keep what was measured
            report["partial"], report["partial_reason"] = True, f"crashed: {type(exc).__name__}: {exc}"
        finally:
            n_inf = len(result.samples_ns) * batch_size
            if recorder is not None:
                energy_report = recorder.finish(result.window_start_ns, result.window_end_ns, n_inf)
            elif energy == "estimate" and result.window_start_ns and result.window_end_ns and n_inf:
                from edgefer.energy.recorder import estimated

                energy_report = estimated(float(nominal_power_w or 0), (result.window_end_ns - result.window_start_ns) * 1e-9, n_inf)
            if result.window_start_ns is not None:
                report["resources"]["cpu_utilization_pct"] = cpu.stop()
            if counter is not None:
                report["instructions"] = counter.finish(1 + warmup, len(result.samples_ns), batch_size)
    finally:
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)
    env = report["environment"]
    env["temperatures_after"] = envinfo.temperatures()
    env["throttling"] = envinfo.throttling()
    report["resources"]["peak_rss_mb"] = peak_rss_mb()
    timing = report["timing"]
    timing["first_inference_ms"] = result.first_inference_ns / 1e6 if result.first_inference_ns is not None else None
    timing["samples_ns"] = list(result.samples_ns)
    report["statistics"] = summarize(result.samples_ns, batch_size)
    report["energy"] = energy_report
    if report["partial"] and energy_report is None:
        from edgefer.energy.recorder import unavailable

        report["energy"] = unavailable("run interrupted before any timed sample")
    return report
