"""One benchmark repeat -> one report dict (the schema in docs/ARCHITECTURE.md).

Device side. The same function runs on every target, in its own runner process
(`python -m edgefer.runner bench`): on a board, on the emulated board and, as a child process of
edgefer, on the local machine. An interrupt (Ctrl-C, SIGTERM) or a crash after timing started
returns the report with the samples measured so far and partial=true.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from edgefer import __version__
from edgefer.errors import EdgeferError
from edgefer.runner import envinfo
from edgefer.runner.files import sha256_file
from edgefer.runner.loadgen import LoadResult, ProgressFn, run_load
from edgefer.runner.repeats import SCHEMA_VERSION, finish_report, new_repeat
from edgefer.runner.resources import CpuWindow, peak_rss_mb, rss_mb, thread_count
from edgefer.runner.runtimes import Runtime, open_runtime, preload_runtime
from edgefer.runner.settings import BenchSettings, parse_json_option

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


def _open_energy(s: BenchSettings):
    """-> (EnergyRecorder | None, report-if-no-recorder | None)."""
    from edgefer.runner.energy import auto_meter, open_meter
    from edgefer.runner.energy.recorder import EnergyRecorder, unavailable

    energy = s.energy
    if isinstance(energy, str) and energy.strip().startswith("{"):  # a meter spec given as JSON text
        energy = parse_json_option(energy, "--energy")
    if energy in (None, "none"):
        return None, unavailable("energy measurement disabled (--energy none)")
    if energy == "estimate":
        return None, None  # computed after the run from the window (validate() made sure of a nominal power)
    if energy in ("auto", "measure"):
        meter, why = auto_meter()
        if meter is None and energy == "measure":  # asked for explicitly: a missing sensor is an error
            raise EdgeferError(f"--energy measure: {why or 'no energy sensor'}")
        if meter is None:
            return None, unavailable(why or "no energy sensor")
        return EnergyRecorder(meter, s.energy_rate_hz), None
    if isinstance(energy, dict):
        if str(energy.get("type", "")).lower() == "none":
            return None, unavailable(energy.get("notes") or "the target profile declares no energy sensor")
        try:
            meter = open_meter(energy)
        except EdgeferError as exc:
            if not energy.get("optional"):
                raise
            return None, unavailable(f"profile meter not usable here: {exc.one_line()}")
        return EnergyRecorder(meter, s.energy_rate_hz or energy.get("sample_rate_hz")), None
    raise EdgeferError(f"invalid --energy '{energy}' (auto, measure, estimate, none or a meter spec as JSON)")


class _Repeat:
    """The state of one repeat while it runs: its report, the `repeats` entry, the meters and the runtime."""

    def __init__(self, artifact: str, s: BenchSettings, target: dict[str, Any] | None) -> None:
        self.artifact, self.s = artifact, s
        warnings: list[str] = []
        n_cpus = os.cpu_count() or 1
        if s.threads is not None and s.threads > n_cpus:
            warnings.append(f"--threads {s.threads} exceeds the {n_cpus} CPUs of this device: "
                            f"threads share cores")
        self.report = _empty_report(artifact, s, target, warnings)
        self.rec = new_repeat(s.repeat_index)
        self.report["repeats"] = [self.rec]
        self.recorder, self.energy_report = _open_energy(s)
        self.counter = None
        if s.count_instructions:  # guest instruction counts under the emulator's plugin (issue 14)
            from edgefer.runner.icount import InstructionCounter

            self.counter = InstructionCounter.open()
        self.result = LoadResult()
        self.cpu = CpuWindow()
        self.rt: Runtime | None = None
        self.feeds: Any = None

    def load(self, opener: Callable[[], Runtime] | None) -> None:
        """Open the runtime (its load time and the memory before it recorded) and make the inputs."""
        s, rec = self.s, self.rec
        if opener is None:
            preload_runtime(self.artifact, s.runtime)  # the library's own memory is not the model's
        rec["rss_before_load_mb"] = rss_mb()
        t0 = time.perf_counter_ns()
        self.rt = opener() if opener is not None else open_runtime(self.artifact, s.runtime, s.threads,
                                                                   **_runtime_options(s))
        rec["load_ms"] = (time.perf_counter_ns() - t0) / 1e6
        self.report["runtime"] = self.rt.describe()
        model_info = getattr(self.rt, "model_info", None)
        if callable(model_info):  # the torch reference knows its params/MACs; file runtimes do not
            self.report["model"] = model_info()
        self.feeds = self.rt.make_inputs(s.batch_size, seed=0)

    def time_runs(self, on_progress: ProgressFn | None) -> None:
        """Cooldown, idle baseline, then the timed runs; stopped or crashed: what was measured is kept."""
        s, rec = self.s, self.rec
        if s.cooldown_s > 0:
            time.sleep(s.cooldown_s)
        if self.recorder is not None:
            self.recorder.idle(s.idle_s)
        rec["temperatures_before"] = envinfo.temperatures()
        if self.recorder is not None:
            self.recorder.start()
        run, feeds = self.rt.run, self.feeds
        call = lambda: run(feeds)  # noqa: E731
        if self.counter is not None:
            self.counter.calibrate()
            call = self.counter.wrap(call)
        try:
            run_load(call, s.runs, s.warmup, s.min_seconds, on_progress, self.result,
                     before_timed=self.cpu.start)
        except (KeyboardInterrupt, SystemExit) as exc:
            rec["partial"], rec["partial_reason"] = True, f"interrupted ({type(exc).__name__})"
        except EdgeferError:
            raise
        except Exception as exc:  # a runtime crash mid-run: keep what was measured
            rec["partial"], rec["partial_reason"] = True, f"crashed: {type(exc).__name__}: {exc}"
        finally:
            self.close_windows()

    def close_windows(self) -> None:
        """Energy, CPU and instruction windows of the timed runs, closed even when they were stopped."""
        s, result, rec = self.s, self.result, self.rec
        n_inf = len(result.samples_ns) * s.batch_size
        if self.recorder is not None:
            self.energy_report = self.recorder.finish(result.window_start_ns, result.window_end_ns, n_inf)
        elif s.energy == "estimate" and result.window_start_ns and result.window_end_ns and n_inf:
            from edgefer.runner.energy.recorder import estimated

            window_s = (result.window_end_ns - result.window_start_ns) * 1e-9
            self.energy_report = estimated(float(s.nominal_power_w or 0), window_s, n_inf)
        if result.window_start_ns is not None:
            rec["cpu_utilization_pct"] = self.cpu.stop()
        rec["threads"] = thread_count()
        if self.counter is not None:
            n_timed = len(result.samples_ns)
            self.report["instructions"] = self.counter.finish(1 + s.warmup, n_timed, s.batch_size)

    def profile_ops(self) -> None:
        """After timing, energy and CPU windows closed (still pinned): the separate profiled runs."""
        if self.s.op_profile and not self.rec["partial"]:
            from edgefer.runner.opprofile import profile_ops

            self.report["op_profile"] = profile_ops(self.rt, self.feeds, self.s.op_profile,
                                                    warmup=min(max(self.s.warmup, 1), 3))

    def finish(self) -> dict[str, Any]:
        """Temperatures, memory, accelerators and samples into the report; its statistics."""
        rec, result = self.rec, self.result
        rec["temperatures_after"] = envinfo.temperatures()
        rec["throttling"] = envinfo.throttling()
        rec["peak_rss_mb"] = peak_rss_mb()
        if rec["peak_rss_mb"] is not None and rec["rss_before_load_mb"] is not None:
            rec["model_rss_mb"] = max(0.0, rec["peak_rss_mb"] - rec["rss_before_load_mb"])
        # after timing and peak RSS: counting the nodes a partial run never reached is skipped
        accel_report = self.rt.accelerators(count_nodes=not rec["partial"]) if self.rt is not None else None
        if accel_report is not None:
            self.report["accelerators"] = accel_report
        first = result.first_inference_ns
        rec["first_inference_ms"] = first / 1e6 if first is not None else None
        rec["samples_ns"] = list(result.samples_ns)
        if rec["partial"] and self.energy_report is None:
            from edgefer.runner.energy.recorder import unavailable

            self.energy_report = unavailable("run interrupted before any timed sample")
        rec["energy"] = self.energy_report
        return finish_report(self.report)


@contextlib.contextmanager
def _pinned(cpus: tuple[int, ...] | None) -> Iterator[None]:
    """This process on these CPUs for the block (before the runtime creates its threads: they inherit it)."""
    if not cpus:
        yield
        return
    try:
        old_affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, cpus)
    except (AttributeError, OSError, ValueError) as exc:
        raise EdgeferError(f"cannot pin to CPUs {list(cpus)}: {exc}")
    try:
        yield
    finally:
        os.sched_setaffinity(0, old_affinity)


def run_bench(artifact: str, settings: BenchSettings | None = None, *,
              opener: Callable[[], Runtime] | None = None, target: dict[str, Any] | None = None,
              on_progress: ProgressFn | None = None) -> dict[str, Any]:
    """Benchmark one artifact in this process: one repeat, as a report with one `repeats` entry.

    Unset settings take the runner's defaults (RUNNER_DEFAULTS). User errors raise EdgeferError
    before any timing starts. The host merges the reports of several repeats (each its own runner
    process) with `edgefer.runner.repeats.merge_repeats`. settings.op_profile=N > 0: after the
    timed runs, N separate profiled runs fill report["op_profile"] (edgefer.runner.opprofile); the
    latency statistics never include them. `opener`: the runtime to use instead of opening the file.
    """
    s = (settings or BenchSettings()).completed().validate()
    repeat = _Repeat(artifact, s, target)
    with _pinned(s.cpus):
        repeat.load(opener)
        repeat.time_runs(on_progress)
        repeat.profile_ops()
    return repeat.finish()


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
        "schema_version": SCHEMA_VERSION, "kind": "edgefer.bench.report",
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
