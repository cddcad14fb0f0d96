"""`bench()`: benchmark artifacts on a target and return validated reports (host side).

Every target runs the device-side runner (`python -m edgefer.runner bench`) in processes of its
own, one per repeat (edgefer/bench/hosts.py): a child process on the local machine, a deployed
runner on a board. The host interleaves the repeats of several artifacts, holds the board lock,
merges each artifact's repeats, adds what only it knows (model params/MACs from the manifest,
the target summary), validates the report against the pydantic schema and writes it atomically.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from edgefer.errors import EdgeferError
from edgefer.runner.loadgen import ProgressFn
from edgefer.runner.settings import BenchSettings

ENERGY_MODES = ("auto", "measure", "estimate", "none")
MAX_REPEAT = 1000


@dataclass
class Job:
    """One thing to benchmark: a model file (or a torch model spec) and what the manifest says of it."""

    path: str
    precision: str | None = None
    manifest: dict[str, Any] | None = None
    record: dict[str, Any] | None = None  # the manifest's entry for this artifact


def resolve_jobs(artifact: str, fmt: str | None = None, precision: str | None = None,
                 runtime: str | None = None) -> list[Job]:
    """Files to benchmark: the file itself, or every manifest artifact matching --format/--precision."""
    from edgefer.convert.manifest import read_manifest, select_artifacts

    if runtime == "torch":  # eager reference: a zoo name or a converted dir (its source model)
        manifest = read_manifest(artifact) if os.path.isdir(artifact) else None
        return [Job(artifact, "fp32", manifest)]
    if os.path.isfile(artifact):
        return [_file_job(artifact, precision)]
    if not os.path.isdir(artifact):
        raise EdgeferError(f"artifact not found: {artifact} (expected an .onnx/.tflite file or a converted directory)")
    manifest = read_manifest(artifact)
    records = select_artifacts(artifact, manifest, fmt, precision)
    jobs = [Job(os.path.join(artifact, a["file"]), a.get("precision"), manifest, a) for a in records]
    for job in jobs:
        _check_sha256(job)
    return jobs


def _file_job(path: str, precision: str | None) -> Job:
    """A file; when the manifest.json beside it lists it, the job carries that record (model facts,
    precision) after the same sha256 check a directory bench makes."""
    from edgefer.convert.manifest import read_manifest

    man_path = os.path.join(os.path.dirname(os.path.abspath(path)), "manifest.json")
    if os.path.isfile(man_path):
        try:
            manifest = read_manifest(os.path.dirname(os.path.abspath(path)))
        except EdgeferError:
            manifest = None  # not ours, or unreadable: bench the file alone
        rec = next((a for a in (manifest or {}).get("artifacts", []) if a.get("file") == os.path.basename(path)), None)
        if rec is not None:
            job = Job(path, precision or rec.get("precision"), manifest, rec)
            _check_sha256(job)
            return job
    return Job(path, precision)


def _check_sha256(job: Job) -> None:
    """A file that no longer matches its manifest entry must not be benchmarked under its label."""
    from edgefer.runner.files import sha256_file

    want = (job.record or {}).get("sha256")
    if not os.path.isfile(job.path):
        raise EdgeferError(f"{job.path} is listed in the manifest but missing", hint="re-run edgefer convert")
    if want and sha256_file(job.path) != want:
        raise EdgeferError(f"{job.path} does not match its manifest entry (sha256 differs): it was changed after "
                           f"conversion, so its precision/format labels cannot be trusted", hint="re-run edgefer convert")


def _energy_setting(mode: str, target: Any, nominal_power_w: float | None) -> tuple[Any, float | None]:
    """--energy mode -> (runner energy argument, nominal power)."""
    if mode not in ENERGY_MODES:
        raise EdgeferError(f"invalid --energy '{mode}' (choose from: {', '.join(ENERGY_MODES)})")
    if nominal_power_w is not None and (isinstance(nominal_power_w, bool) or not nominal_power_w > 0):
        raise EdgeferError(f"--nominal-power-w must be a positive number of watts, got {nominal_power_w!r}")
    nominal = nominal_power_w if nominal_power_w is not None else target.energy.nominal_power_w
    if mode in ("none", "estimate"):
        return mode, nominal
    meter = target.energy.meter_spec()
    if mode == "measure" and meter.get("type") == "none":
        raise EdgeferError(f"target '{target.name}' has no energy meter; use --energy estimate or none")
    # auto: a profile meter that is missing here gives energy null with the reason; measure: an error
    return {**meter, "optional": mode == "auto"}, nominal


def _enrich(report: dict[str, Any], job: Job, target: Any, label: str | None) -> None:
    model = (job.manifest or {}).get("model") or {}
    if model and report["model"].get("params") is None:  # the torch runtime profiles its model itself
        report["model"] = {"name": model.get("name"), "params": model.get("params_total", model.get("params")),
                           "macs": model.get("macs"), "flops": model.get("flops")}
    report["manifest"] = job.manifest
    if job.record is not None:
        report["artifact"]["precision"] = job.record.get("precision") or report["artifact"]["precision"]
        ver = job.record.get("verification") or {}
        report["accuracy"] = ver.get("metrics") or None
    report["target"] = target.summary()
    if target.emulated and not report["environment"].get("emulated"):
        # the profile knows it is an emulator even if the runner could not tell
        report["environment"]["emulated"] = True
        report["environment"]["emulator"] = target.emulator or "emulated (per target profile)"
    report["label"] = label


def _settings_for(job: Job, tgt: Any, runtime: str | None, o: dict[str, Any],
                  accel: tuple[list[str] | None, dict[str, Any] | None]) -> BenchSettings:
    """One job's BenchSettings: the command's values, else the target profile's `bench:` defaults;
    `accel` = (onnxruntime provider specs, runner accel options) from edgefer.bench.accel_choice.job_accel."""
    providers, accel_options = accel
    d = tgt.bench
    is_tflite = job.path.endswith(".tflite")
    pick = lambda key, default: o[key] if o.get(key) is not None else default  # noqa: E731
    return BenchSettings(
        runs=pick("runs", d.runs), warmup=pick("warmup", d.warmup), min_seconds=pick("min_seconds", d.min_seconds),
        batch_size=pick("batch_size", 1),
        threads=pick("threads", d.threads or (tgt.runtimes.tflite.threads if is_tflite else None)),
        cpus=tuple(pick("cpus", d.cpus or ())) or None, cooldown_s=pick("cooldown_s", d.cooldown_s),
        runtime=runtime,
        providers=tuple(providers) if providers else None,
        xnnpack=tgt.runtimes.tflite.xnnpack if is_tflite else None,
        input_shape=tuple(o["input_shape"]) if o.get("input_shape") else None, precision=job.precision,
        energy=o["energy"], nominal_power_w=o["nominal_power_w"], idle_s=o["idle_s"], accel=accel_options,
    ).validate()


def check_out(out: str | None, n_jobs: int, option: str = "--out") -> None:
    """Refuse an --out (or another output option) that cannot take the reports before anything is measured."""
    if out is None:
        return
    if n_jobs > 1 and os.path.exists(out) and not os.path.isdir(out):
        raise EdgeferError(f"{option} {out} is a file, but {n_jobs} reports need a directory",
                           hint="give a directory (it is created) or a file with --format/--precision for one report")
    probe = out if (n_jobs > 1 or os.path.isdir(out)) else (os.path.dirname(os.path.abspath(out)) or ".")
    existing = probe
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if existing and not os.path.isdir(existing):
        raise EdgeferError(f"{option} {out}: {existing} is a file, not a directory")
    if existing and not os.access(existing, os.W_OK):
        raise EdgeferError(f"{option} {out}: {existing} is not writable")


def save_report(path: str, report: dict[str, Any]) -> None:
    """Write a report atomically; if that fails, keep it in a fallback file and say where, in one line."""
    from edgefer.runner.files import write_json_atomic

    try:
        write_json_atomic(path, report)
        return
    except OSError as exc:
        reason = exc.strerror or str(exc)
    fallback = save_fallback(report, os.path.basename(path) or "report.json")
    if fallback is not None:
        raise EdgeferError(f"cannot write {path} ({reason}); the measured report was saved to {fallback}")
    sys.stdout.write(json.dumps(report) + "\n")
    raise EdgeferError(f"cannot write {path} ({reason}) nor a fallback file; the report was printed to stdout")


def save_fallback(report: dict[str, Any], name: str) -> str | None:
    """The report in a fresh file of the temp dir, home or cwd (the first that takes it) -> its path."""
    import tempfile
    import time

    from edgefer.runner.files import write_json_atomic

    name = f"edgefer-report-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{name}"
    for folder in (tempfile.gettempdir(), os.path.expanduser("~"), os.getcwd()):
        fallback = os.path.join(folder, name)
        try:
            write_json_atomic(fallback, report)
        except OSError:
            continue
        return fallback
    return None


def bench(
    artifact: str,
    *,
    target: str = "local",
    runtime: str | None = None,
    fmt: str | None = None,
    precision: str | None = None,
    runs: int | None = None,
    warmup: int | None = None,
    min_seconds: float | None = None,
    batch_size: int = 1,
    threads: int | None = None,
    cpus: list[int] | None = None,
    cooldown_s: float | None = None,
    input_shape: list[int] | None = None,
    energy: str = "auto",
    nominal_power_w: float | None = None,
    idle_s: float = 2.0,
    repeat: int | None = None,
    lock_timeout_s: float | None = None,
    label: str | None = None,
    out: str | None = None,
    on_progress: Callable[[Job], ProgressFn | None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    install_deps: bool = False,
    op_profile: int = 0,
    accel: Any = None,
    count_instructions: bool | None = None,
) -> list[dict[str, Any]]:
    """Benchmark one artifact (or each one in a converted directory); one validated report each.

    Each report has `repeat` repeats (default: the target profile's), each a fresh runner process;
    the repeats of several artifacts are interleaved (A B C A B C ...) so slow drift hits all
    alike. Unset settings come from the target profile's `bench:` defaults. With `out`, a single
    report is written to that file; several reports go into `out` as a directory, one
    `<file>.json` each, rewritten after every round of repeats. op_profile=N: after the timed runs
    of the first repeat, N separate profiled runs give the report's op_profile section.
    `count_instructions` (None: the profile's default) adds guest instruction counts on an emulated target.
    """
    from edgefer.lab.targets import bench_on_place, is_labgrid

    if is_labgrid(target):  # hold the labgrid place for these runs, then give it back (edgefer.lab)
        return bench_on_place(bench, dict(locals(), target=target))
    jobs = resolve_jobs(artifact, fmt, precision, runtime)
    return bench_jobs(jobs, target=target, runtime=runtime, runs=runs, warmup=warmup, min_seconds=min_seconds,
                      batch_size=batch_size, threads=threads, cpus=cpus, cooldown_s=cooldown_s,
                      input_shape=input_shape, energy=energy, nominal_power_w=nominal_power_w, idle_s=idle_s,
                      repeat=repeat, lock_timeout_s=lock_timeout_s, labels=[label] * len(jobs),
                      outs=[report_path(out, job, len(jobs)) for job in jobs] if out else None,
                      on_progress=on_progress, on_wait=on_wait, install_deps=install_deps, out_hint=out,
                      op_profile=op_profile, accel=accel, precision_asked=precision,
                      count_instructions=count_instructions)


def bench_jobs(
    jobs: list[Job],
    *,
    target: str = "local",
    runtime: str | None = None,
    labels: list[str | None] | None = None,
    outs: list[str] | None = None,
    repeat: int | None = None,
    lock_timeout_s: float | None = None,
    on_progress: Callable[[Job], ProgressFn | None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    install_deps: bool = False,
    out_hint: str | None = None,
    op_profile: int = 0,
    accel: Any = None,
    precision_asked: str | None = None,
    failures: dict[int, str] | None = None,
    count_instructions: bool | None = None,
    aligned: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """Benchmark several jobs on one target with interleaved repeats (used by bench, reproduce, studies).

    accel: an edgefer.bench.accel_choice.AccelRequest (command-line overrides of the profile's accelerators).
    failures: pass a dict to keep going when one job fails (deploy, load, runtime error): its index
    maps to the one-line error, the other jobs go on; without it the first error is raised.
    aligned=True: one entry per job, in order, None where nothing was measured."""
    from edgefer.bench.accel_choice import AccelRequest, job_accel
    from edgefer.bench.hosts import open_host
    from edgefer.targets import load_target

    if isinstance(op_profile, bool) or not isinstance(op_profile, int) or not 0 <= op_profile <= 100_000:
        raise EdgeferError(f"--op-profile must be a number of profiled runs >= 1, got {op_profile}")
    from edgefer.bench.instructions import counting_target

    tgt, counting = counting_target(load_target(target), count_instructions)
    if runtime == "torch" and (tgt.connection.type != "local" or tgt.emulated):
        raise EdgeferError("--runtime torch is a host-only reference; it cannot run on a remote target")
    k = repeat if repeat is not None else tgt.bench.repeat
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_REPEAT:
        raise EdgeferError(f"--repeat must be an integer between 1 and {MAX_REPEAT}, got {k!r}")
    timeout = lock_timeout_s if lock_timeout_s is not None else tgt.bench.lock_timeout_s
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= 7 * 24 * 3600:
        raise EdgeferError(f"--lock-timeout must be between 0 and 604800 seconds, got {timeout!r}")
    energy_arg, nominal = _energy_setting(options.get("energy", "auto"), tgt, options.get("nominal_power_w"))
    opts = {**options, "energy": energy_arg, "nominal_power_w": nominal, "idle_s": options.get("idle_s", 2.0)}
    # checked for every job before any runs; --runtime torch has one fp32 job, --precision is what was asked
    job_accels = [job_accel(tgt, accel or AccelRequest(), j.path,
                            precision_asked if runtime == "torch" else j.precision, runtime) for j in jobs]
    settings = [_settings_for(job, tgt, runtime, opts, ja).with_(count_instructions=counting)
                for job, ja in zip(jobs, job_accels)]
    if out_hint is not None:
        check_out(out_hint, len(jobs))
    for o in outs or []:
        check_out(o, 1)
    run = _Interleaved(open_host(tgt, install_deps), jobs, settings, k, tgt, labels or [None] * len(jobs), outs,
                       op_profile, failures)
    run.prepare()
    reports = run.measure(timeout, on_wait, on_progress)
    return list(run.merged) if aligned else reports


class _Interleaved:
    """The repeats of several jobs on one board, interleaved A B C A B C ..., under the board lock."""

    def __init__(self, host: Any, jobs: list[Job], settings: list[BenchSettings], k: int, tgt: Any,
                 labels: list[str | None], outs: list[str] | None, op_profile: int,
                 failures: dict[int, str] | None) -> None:
        self.host, self.jobs, self.settings, self.k, self.tgt = host, jobs, settings, k, tgt
        self.labels, self.outs, self.op_profile, self.failures = labels, outs, op_profile, failures
        self.repeats: list[list[dict]] = [[] for _ in jobs]
        self.merged: list[dict | None] = [None] * len(jobs)

    def _fail(self, j: int, exc: EdgeferError) -> None:
        if self.failures is None:
            raise exc
        self.failures[j] = exc.one_line()

    def prepare(self) -> None:
        if self.failures is None:
            self.host.prepare([job.path for job in self.jobs])
            return
        for j, job in enumerate(self.jobs):  # one job's deploy failing must not stop the others
            try:
                self.host.prepare([job.path])
            except EdgeferError as exc:
                self._fail(j, exc)

    def measure(self, timeout: float, on_wait: Any, on_progress: Any) -> list[dict[str, Any]]:
        live = [j for j in range(len(self.jobs)) if j not in (self.failures or {})]
        if not live:
            return []
        progress = [on_progress(job) if on_progress is not None else None for job in self.jobs]
        stopped = False
        with self.host.hold(timeout, on_wait) as exclusive:
            try:
                for i in range(self.k):
                    for j in list(live):
                        # the op profile (separate profiled runs) is made once, after the first repeat's timing
                        extra = ["--op-profile", str(self.op_profile)] if self.op_profile and i == 0 else []
                        try:
                            rep = self.host.run_repeat(self.jobs[j].path, self.settings[j], i,
                                                       _event_adapter(progress[j], i, self.k), extra)
                        except EdgeferError as exc:
                            self._fail(j, exc)
                            live.remove(j)
                            continue
                        self.repeats[j].append(rep)
                        if rep.get("partial"):
                            stopped = True
                            break
                    if stopped or not live:
                        break
                    self.finish(exclusive)  # a later failure keeps these
            except KeyboardInterrupt:
                stopped = True  # between two repeats: what was measured is kept and marked partial
            if stopped:
                self.finish(exclusive, planned=self.k)
        return [m for m in self.merged if m is not None]

    def finish(self, exclusive: dict, planned: int | None = None) -> None:
        _finish_all(self.jobs, self.repeats, self.merged, self.tgt, self.labels, exclusive, self.outs, planned)


def _finish_all(jobs: list[Job], repeats: list[list[dict]], merged: list[dict | None], tgt: Any,
                labels: list[str | None], exclusive: dict, outs: list[str] | None, planned: int | None = None) -> None:
    """Merge each job's repeats so far into its report, validate it and write it. `planned`: the run
    was stopped early; a report with fewer repeats than that is marked partial."""
    from edgefer.report.bench import validate_report
    from edgefer.runner.repeats import merge_repeats

    for j, job in enumerate(jobs):
        if not repeats[j]:
            continue
        report = merge_repeats(repeats[j], tgt.bench.session_cv)
        if planned is not None and not report["partial"] and len(repeats[j]) < planned:
            report["partial"] = True
            report["partial_reason"] = f"interrupted on the host after {len(repeats[j])} of {planned} repeats"
        _enrich(report, job, tgt, labels[j])
        report["exclusive"] = exclusive
        from edgefer.bench.roofline import roofline_section  # GMAC/s and fraction of the nominal peak

        report["roofline"] = roofline_section(report, tgt, job.path)
        validate_report(report, f"report of {os.path.basename(job.path)}")
        merged[j] = report
        if outs is not None:
            save_report(outs[j], report)


def _event_adapter(progress: ProgressFn | None, index: int, k: int) -> Callable[[dict], None] | None:
    """The runner's jsonl events as dicts -> the progress bar's (phase, done, total), per repeat."""
    if progress is None:
        return None

    def on_event(event: dict) -> None:
        if event.get("event") == "progress":
            phase = str(event.get("phase"))
            progress(f"repeat {index + 1}/{k} {phase}" if k > 1 else phase,
                     int(event.get("done", 0)), int(event.get("total", 0)))

    return on_event


def report_path(out: str, job: Job, n_jobs: int) -> str:
    """One report -> the file `out`; several -> `out/<artifact file>.json`."""
    if n_jobs == 1 and not os.path.isdir(out):
        return out
    return os.path.join(out, os.path.basename(job.path.rstrip("/")) + ".json")
