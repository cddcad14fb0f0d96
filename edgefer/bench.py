"""`bench()`: benchmark artifacts on a target and return validated reports (host side).

Local targets run the device-side runner in-process (the same `edgefer.runner` code a board
runs); remote ones go through `edgefer.deploy.bench_remote`. The host then adds what only it
knows (model params/MACs from the manifest, the target summary), validates the report against
the pydantic schema and, if asked, writes it atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from edgefer.errors import EdgeferError
from edgefer.runner.loadgen import ProgressFn

ENERGY_MODES = ("auto", "measure", "estimate", "none")


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
    from edgefer.convert.manifest import read_manifest

    if runtime == "torch":  # eager reference: a zoo name or a converted dir (its source model)
        manifest = read_manifest(artifact) if os.path.isdir(artifact) else None
        return [Job(artifact, "fp32", manifest)]
    if os.path.isfile(artifact):
        return [Job(artifact, precision)]
    if not os.path.isdir(artifact):
        raise EdgeferError(f"artifact not found: {artifact} (expected an .onnx/.tflite file or a converted directory)")
    manifest = read_manifest(artifact)
    records = [a for a in manifest.get("artifacts", [])
               if (fmt is None or a.get("format") == fmt) and (precision is None or a.get("precision") == precision)]
    if not records:
        have = ", ".join(f"{a.get('format')}/{a.get('precision')}" for a in manifest.get("artifacts", [])) or "none"
        raise EdgeferError(f"no artifact in {artifact} matches format={fmt or 'any'} precision={precision or 'any'} "
                           f"(it has: {have})")
    return [Job(os.path.join(artifact, a["file"]), a.get("precision"), manifest, a) for a in records]


def _energy_setting(mode: str, target: Any, nominal_power_w: float | None) -> tuple[Any, float | None]:
    """--energy mode -> (runner energy argument, nominal power)."""
    if mode not in ENERGY_MODES:
        raise EdgeferError(f"invalid --energy '{mode}' (choose from: {', '.join(ENERGY_MODES)})")
    nominal = nominal_power_w or target.energy.nominal_power_w
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


def _runner_args(settings: dict[str, Any]) -> list[str]:
    """The same settings as `python -m edgefer.runner bench` flags (for remote targets)."""
    args: list[str] = []
    for key, flag in (("runs", "--runs"), ("warmup", "--warmup"), ("min_seconds", "--min-seconds"),
                      ("batch_size", "--batch-size"), ("threads", "--threads"), ("cooldown_s", "--cooldown"),
                      ("runtime", "--runtime"), ("precision", "--precision"), ("nominal_power_w", "--nominal-power-w"),
                      ("idle_s", "--idle-seconds")):
        if settings.get(key) is not None:
            args += [flag, str(settings[key])]
    if settings.get("cpus"):
        args += ["--cpus", ",".join(map(str, settings["cpus"]))]
    if settings.get("providers"):
        args += ["--providers", ",".join(settings["providers"])]
    if settings.get("xnnpack") is not None:
        args.append("--xnnpack" if settings["xnnpack"] else "--no-xnnpack")
    if settings.get("input_shape"):
        args += ["--input-shape", ",".join(map(str, settings["input_shape"]))]
    energy = settings.get("energy")
    args += ["--energy", json.dumps(energy) if isinstance(energy, dict) else str(energy)]
    if settings.get("target") is not None:
        args += ["--target-json", json.dumps(settings["target"])]
    return args


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
    label: str | None = None,
    out: str | None = None,
    on_progress: Callable[[Job], ProgressFn | None] | None = None,
    count_instructions: bool | None = None,
) -> list[dict[str, Any]]:
    """Benchmark one artifact (or each one in a converted directory); one validated report each.

    Unset settings come from the target profile's `bench:` defaults. With `out`, a single report
    is written to that file; several reports go into `out` as a directory, one `<file>.json` each.
    `count_instructions` (None: the profile's default) adds guest instruction counts on an emulated target.
    """
    from edgefer.report import validate_report
    from edgefer.runner.files import write_json_atomic
    from edgefer.targets import load_target

    from edgefer.instructions import counting_target

    tgt, counting = counting_target(load_target(target), count_instructions)
    d = tgt.bench
    jobs = resolve_jobs(artifact, fmt, precision, runtime)
    energy_arg, nominal = _energy_setting(energy, tgt, nominal_power_w)
    reports = []
    for job in jobs:
        is_tflite = job.path.endswith(".tflite")
        settings: dict[str, Any] = {
            "runs": runs if runs is not None else d.runs,
            "warmup": warmup if warmup is not None else d.warmup,
            "min_seconds": min_seconds if min_seconds is not None else d.min_seconds,
            "batch_size": batch_size,
            "threads": threads or d.threads or (tgt.runtimes.tflite.threads if is_tflite else None),
            "cpus": cpus or d.cpus,
            "cooldown_s": cooldown_s if cooldown_s is not None else d.cooldown_s,
            "providers": tgt.runtimes.onnxruntime.providers if not is_tflite and runtime != "torch" else None,
            "xnnpack": tgt.runtimes.tflite.xnnpack if is_tflite else None,
            "input_shape": input_shape, "energy": energy_arg, "nominal_power_w": nominal, "idle_s": idle_s,
            "runtime": runtime if runtime != "torch" else None, "precision": job.precision,
            "target": tgt.summary(),
        }
        progress = on_progress(job) if on_progress is not None else None
        # in-process only for the plain local machine; an emulated "local" board runs under its wrapper
        if tgt.connection.type != "local" or tgt.emulated:
            if runtime == "torch":
                raise EdgeferError("--runtime torch is a host-only reference; it cannot run on a remote target")
            from edgefer.deploy import bench_remote

            extra = ["--count-instructions"] if counting else []
            report = bench_remote(job.path, tgt, _runner_args(settings) + extra, _event_adapter(progress))
        else:
            report = _bench_local(job, settings, runtime, progress)
        _enrich(report, job, tgt, label)
        validate_report(report, f"report of {os.path.basename(job.path)}")
        reports.append(report)
        if out is not None:  # each report as soon as it exists: a later failure keeps it
            write_json_atomic(report_path(out, job, len(jobs)), report)
        if report["partial"]:
            break  # interrupted or crashed: do not start the next artifact
    return reports


def _event_adapter(progress: ProgressFn | None) -> Callable[[dict], None] | None:
    """deploy hands over the runner's jsonl events as dicts; the progress bar takes (phase, done, total)."""
    if progress is None:
        return None

    def on_event(event: dict) -> None:
        if event.get("event") == "progress":
            progress(str(event.get("phase")), int(event.get("done", 0)), int(event.get("total", 0)))

    return on_event


def _bench_local(job: Job, s: dict[str, Any], runtime: str | None, progress: ProgressFn | None) -> dict[str, Any]:
    from edgefer.runner.session import run_bench

    opener = None
    loaded: list[Any] = []  # the torch runtime the opener built, for its model facts
    if runtime == "torch":
        from edgefer.torch_runtime import TorchRuntime

        def opener() -> TorchRuntime:
            rt = TorchRuntime()
            rt.load(job.path, s["threads"], {"input_shape": s["input_shape"]} if s["input_shape"] else None)
            loaded.append(rt)
            return rt

    report = run_bench(
        job.path, runtime=s["runtime"], opener=opener, runs=s["runs"], warmup=s["warmup"],
        min_seconds=s["min_seconds"], batch_size=s["batch_size"], threads=s["threads"], cpus=s["cpus"],
        cooldown_s=s["cooldown_s"], providers=s["providers"], xnnpack=s["xnnpack"], input_shape=s["input_shape"],
        energy=s["energy"], nominal_power_w=s["nominal_power_w"], idle_s=s["idle_s"], precision=s["precision"],
        target=s["target"], on_progress=progress,
    )
    if runtime == "torch":
        report["artifact"]["format"] = "torch"
        if loaded:
            report["model"] = _torch_model_info(loaded[0])
    return report


def _torch_model_info(rt: Any) -> dict[str, Any]:
    """Name, params and MACs of the eager model (edgefer.profile, batch 1)."""
    from edgefer.profile import profile_model

    shape = tuple(d if d is not None else 1 for d in rt.inputs[0].shape)
    p = profile_model(rt.model, shape, name=rt.model_name)
    return {"name": rt.model_name, "params": p.params_total, "macs": p.macs, "flops": p.flops}


def report_path(out: str, job: Job, n_jobs: int) -> str:
    """One report -> the file `out`; several -> `out/<artifact file>.json`."""
    if n_jobs == 1 and not os.path.isdir(out):
        return out
    return os.path.join(out, os.path.basename(job.path.rstrip("/")) + ".json")
