"""`bench()`: benchmark artifacts on a target and return validated reports (host side).

Every target runs the device-side runner (`python -m edgefer.runner bench`) in processes of its
own, one per repeat (edgefer/bench/hosts.py): a child process on the local machine, a deployed
runner on a board. The host resolves the caller's BenchSettings against the target profile
(edgefer/bench/request.py), interleaves the repeats of several artifacts, holds the board lock,
merges each artifact's repeats, adds what only it knows (model params/MACs from the manifest,
the target summary), validates the report against the pydantic schema and writes it atomically.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from edgefer.bench.jobs import Job, resolve_jobs
from edgefer.bench.outputs import check_out, report_path, save_report
from edgefer.bench.request import check_lock_timeout, check_repeat, check_request, resolve_settings
from edgefer.errors import EdgeferError
from edgefer.runner.loadgen import ProgressFn
from edgefer.runner.settings import BenchSettings

__all__ = ["bench", "bench_jobs"]

JobProgress = Callable[[Job], ProgressFn | None]


def bench(
    artifact: str,
    settings: BenchSettings | None = None,
    *,
    target: Any = "local",
    runtime: str | None = None,
    fmt: str | None = None,
    precision: str | None = None,
    accel: Any = None,
    repeat: int | None = None,
    lock_timeout_s: float | None = None,
    label: str | None = None,
    out: str | None = None,
    on_progress: JobProgress | None = None,
    on_wait: Callable[[str], None] | None = None,
    install_deps: bool = False,
) -> list[dict[str, Any]]:
    """Benchmark one artifact (or each one in a converted directory); one validated report each.

    `settings`: what to measure (None or an unset field: the target profile's `bench:` defaults);
    settings.op_profile=N: after the timed runs of the first repeat, N separate profiled runs give
    the report's op_profile section; settings.count_instructions (None: the profile's default) adds
    guest instruction counts on an emulated target. `runtime`, `fmt` and `precision` choose the
    artifacts (and the runtime), `accel` an edgefer.bench.accel_choice.AccelRequest. Each report
    has `repeat` repeats (default: the target profile's), each a fresh runner process; the repeats
    of several artifacts are interleaved (A B C A B C ...) so slow drift hits all alike. With
    `out`, a single report is written to that file; several reports go into `out` as a directory,
    one `<file>.json` each, rewritten after every round of repeats.
    """
    from edgefer.lab.targets import bench_on_place, is_labgrid

    request = check_request(settings)
    if is_labgrid(target):  # hold the labgrid place for these runs, then give it back (edgefer.lab)
        return bench_on_place(target, lambda board: bench(
            artifact, request, target=board, runtime=runtime, fmt=fmt, precision=precision, accel=accel,
            repeat=repeat, lock_timeout_s=lock_timeout_s, label=label, out=out, on_progress=on_progress,
            on_wait=on_wait, install_deps=install_deps))
    jobs = resolve_jobs(artifact, fmt, precision, runtime)
    outs = [report_path(out, job, len(jobs)) for job in jobs] if out else None
    return bench_jobs(jobs, request, target=target, runtime=runtime, repeat=repeat, lock_timeout_s=lock_timeout_s,
                      labels=[label] * len(jobs), outs=outs, on_progress=on_progress, on_wait=on_wait,
                      install_deps=install_deps, out_hint=out, accel=accel, precision_asked=precision)


def bench_jobs(
    jobs: list[Job],
    settings: BenchSettings | None = None,
    *,
    target: Any = "local",
    runtime: str | None = None,
    labels: list[str | None] | None = None,
    outs: list[str] | None = None,
    repeat: int | None = None,
    lock_timeout_s: float | None = None,
    on_progress: JobProgress | None = None,
    on_wait: Callable[[str], None] | None = None,
    install_deps: bool = False,
    out_hint: str | None = None,
    accel: Any = None,
    precision_asked: str | None = None,
    failures: dict[int, str] | None = None,
    aligned: bool = False,
) -> list[dict[str, Any]]:
    """Benchmark several jobs on one target with interleaved repeats (used by bench, reproduce, studies).

    settings, accel: as for bench(). failures: pass a dict to keep going when one job fails
    (deploy, load, runtime error): its index maps to the one-line error, the other jobs go on;
    without it the first error is raised. aligned=True: one entry per job, in order, None where
    nothing was measured."""
    from edgefer.bench.hosts import open_host
    from edgefer.bench.instructions import counting_target
    from edgefer.targets import load_target

    request = check_request(settings)
    tgt, counting = counting_target(load_target(target), request.count_instructions)
    if runtime == "torch" and (tgt.connection.type != "local" or tgt.emulated):
        raise EdgeferError("--runtime torch is a host-only reference; it cannot run on a remote target")
    k = check_repeat(repeat if repeat is not None else tgt.bench.repeat)
    timeout = check_lock_timeout(lock_timeout_s if lock_timeout_s is not None else tgt.bench.lock_timeout_s)
    settings_per_job = _job_settings(jobs, request, tgt, runtime, accel, precision_asked, counting)
    if out_hint is not None:
        check_out(out_hint, len(jobs))
    for o in outs or []:
        check_out(o, 1)
    run = _Interleaved(open_host(tgt, install_deps), jobs, settings_per_job, k, tgt,
                       labels or [None] * len(jobs), outs, failures)
    run.prepare()
    reports = run.measure(timeout, on_wait, on_progress)
    return list(run.merged) if aligned else reports


def _job_settings(jobs: list[Job], request: BenchSettings, tgt: Any, runtime: str | None, accel: Any,
                  precision_asked: str | None, counting: bool) -> list[BenchSettings]:
    """Each job's resolved settings, all checked before anything runs; --runtime torch has one fp32 job,
    its accelerator choice follows the --precision that was asked."""
    from edgefer.bench.accel_choice import AccelRequest, job_accel

    asked = accel or AccelRequest()
    return [resolve_settings(request, job, tgt, runtime,
                             job_accel(tgt, asked, job.path, precision_asked if runtime == "torch" else job.precision,
                                       runtime), counting)
            for job in jobs]


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


class _Interleaved:
    """The repeats of several jobs on one board, interleaved A B C A B C ..., under the board lock."""

    def __init__(self, host: Any, jobs: list[Job], settings: list[BenchSettings], k: int, tgt: Any,
                 labels: list[str | None], outs: list[str] | None, failures: dict[int, str] | None) -> None:
        self.host, self.jobs, self.settings, self.k, self.tgt = host, jobs, settings, k, tgt
        self.labels, self.outs, self.failures = labels, outs, failures
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

    def _repeat_settings(self, j: int, i: int) -> BenchSettings:
        # the op profile (separate profiled runs) is made once, after the first repeat's timing
        s = self.settings[j]
        return s.with_(repeat_index=i, op_profile=s.op_profile if i == 0 else 0)

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
                        try:
                            rep = self.host.run_repeat(self.jobs[j].path, self._repeat_settings(j, i),
                                                       _event_adapter(progress[j], i, self.k))
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
