"""The study matrix: which models to convert (once each), which targets, which cells to bench.

A cell = (target, model, format, precision); it is measured `repeats` times. PyTorch eager
("torch") runs on the host only, so on other targets its cells are left out with the reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from edgefer.errors import EdgeferError
from edgefer.study.spec import ModelSpec, Study, TargetSpec

TORCH = "torch"


@dataclass
class ModelPlan:
    id: str
    label: str
    spec: ModelSpec
    dir: Path  # converted directory (ours, or the ready artifact's)
    convert_options: object | None = None  # edgefer.convert.ConvertOptions; None for a ready artifact
    key: dict = field(default_factory=dict)  # what the conversion depends on

    @property
    def is_artifact(self) -> bool:
        return self.spec.artifact is not None


@dataclass
class TargetPlan:
    id: str
    spec: TargetSpec
    profile: object  # edgefer.targets.Target (connection type labgrid for a place)

    @property
    def is_lab(self) -> bool:
        return self.profile.connection.type == "labgrid"

    @property
    def runs_torch(self) -> bool:
        """PyTorch eager is a host-side reference: only the plain local machine runs it."""
        return self.profile.connection.type == "local" and not self.profile.emulated


@dataclass(frozen=True)
class Cell:
    target: str
    model: str
    format: str
    precision: str | None  # None: a ready file whose precision edgefer did not record

    @property
    def series(self) -> str:
        return self.format if self.precision is None else f"{self.format} {self.precision}"

    @property
    def id(self) -> str:
        return f"{self.model}__{self.format}-{self.precision or 'file'}"


@dataclass
class Plan:
    study: Study
    out: Path
    models: list[ModelPlan]
    targets: list[TargetPlan]
    skipped: list[str] = field(default_factory=list)  # cells left out, with why
    int8_activation: str | None = None
    int8_activation_why: str | None = None

    def model(self, model_id: str) -> ModelPlan:
        return next(m for m in self.models if m.id == model_id)

    def target(self, target_id: str) -> TargetPlan:
        return next(t for t in self.targets if t.id == target_id)

    def deployed_formats(self) -> tuple[str, ...]:
        return tuple(f for f in self.study.formats if f != TORCH)

    def series(self) -> list[tuple[str, str]]:
        return [(f, p) for f in self.study.formats for p in (("fp32",) if f == TORCH else self.study.precisions)]


def _file_sha256(path: str | None) -> str | None:
    from edgefer.runner.files import sha256_file

    return sha256_file(path) if path and os.path.isfile(path) else None


def _module_file(module: str) -> str | None:
    """The source file of a user module (its hash is part of the conversion key), without importing it."""
    name = module.partition(":")[0]
    if name.endswith(".py"):
        return name
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec and spec.origin and os.path.isfile(spec.origin) else None


def _data_key(path: str | None) -> dict | None:
    if path is None:
        return None
    file = path.rsplit(":", 1)[0] if not os.path.exists(path) and ":" in path else path
    st = os.stat(file) if os.path.exists(file) else None
    return {"path": path, "size": st.st_size if st else None, "mtime": int(st.st_mtime) if st else None}


def _model_plan(m: ModelSpec, study: Study, out: Path, act: str | None) -> ModelPlan:
    from edgefer.convert import ConvertOptions

    mid, label = m.id(), m.default_label()
    if m.artifact:
        p = Path(m.artifact)
        if not p.exists():
            raise EdgeferError(f"model {label}: artifact not found: {p}")
        if p.is_file() and p.suffix not in (".onnx", ".tflite"):
            raise EdgeferError(f"model {label}: artifact {p.name} is neither .onnx nor .tflite (nor a converted directory)")
        return ModelPlan(mid, label, m, p if p.is_dir() else p.parent)
    if m.zoo:
        from edgefer.zoo.registry import check_kwargs, get_entry

        get_entry(m.zoo)  # unknown model: one line with close matches
        if m.args:
            check_kwargs(m.zoo, m.args)
    if m.weights and not os.path.isfile(m.weights):
        raise EdgeferError(f"model {label}: weights file not found: {m.weights}")
    inp = m.input
    d = study.data
    deployed = tuple(f for f in study.formats if f != TORCH)
    opts = ConvertOptions(
        model=m.zoo, module=m.module, module_args=dict(m.args), weights=Path(m.weights) if m.weights else None,
        input_size=tuple(inp.size) if inp else None, channels=inp.channels if inp else None,
        class_names=inp.class_names if inp else None, color=inp.color if inp else None,
        mean=tuple(inp.mean) if inp and inp.mean else None, std=tuple(inp.std) if inp and inp.std else None,
        # a torch-only study still exports ONNX fp32: its manifest is how the eager runtime rebuilds the model
        out=out / "artifacts" / mid, formats=deployed or ("onnx",), precisions=tuple(study.precisions) if deployed else ("fp32",),
        calib=d.calib, calib_samples=d.calib_samples, eval=d.eval,
        eval_samples=d.eval_samples, activation_type=act if "int8" in study.precisions else None,
        verify=study.verify,
    )
    key = {
        "zoo": m.zoo, "module": m.module, "args": m.args, "weights_sha256": _file_sha256(m.weights),
        "module_sha256": _file_sha256(_module_file(m.module)) if m.module else None,
        "input": inp.model_dump() if inp else None, "formats": list(opts.formats), "precisions": list(opts.precisions),
        "int8_activation": opts.activation_type, "calib": _data_key(d.calib), "calib_samples": d.calib_samples,
        "eval": _data_key(d.eval), "eval_samples": d.eval_samples, "verify": study.verify, "seed": opts.seed,
    }
    return ModelPlan(mid, label, m, opts.out, opts, key)


def _target_plan(t: TargetSpec):
    from edgefer.targets import Target, load_target

    base = load_target(t.profile)
    if not t.coordinator:
        return TargetPlan(t.id(), t, base)
    # the profile says how to talk to the board; the place (given here) says where it is
    old = base.connection
    conn = {"type": "labgrid", "coordinator": os.path.expandvars(t.coordinator), "place": t.place, "tags": t.tags}
    for k in ("user", "key", "known_hosts", "jump", "strict_host_key_checking", "connect_timeout_s"):
        if getattr(old, k, None) is not None:
            conn[k] = getattr(old, k)
    if t.acquire_timeout_s is not None:
        conn["acquire_timeout_s"] = t.acquire_timeout_s
    elif getattr(old, "acquire_timeout_s", None) is not None:
        conn["acquire_timeout_s"] = old.acquire_timeout_s
    # several places may be boards behind one host: one work dir per place keeps their files apart
    workdir = base.workdir if "{place}" in base.workdir else base.workdir + "/{place}"
    data = {**base.model_dump(), "connection": conn, "workdir": workdir}
    try:
        profile = Target.model_validate(data)
    except Exception as exc:
        raise EdgeferError(f"target {t.id()}: {str(exc).splitlines()[-1]}") from None
    profile._path = base.path
    return TargetPlan(t.id(), t, profile)


def _int8_activation(targets: list[TargetPlan]) -> tuple[str, str]:
    """Each model is converted once for every board: the ONNX int8 activation type all targets
    agree on, else U8 (runs everywhere; S8 is only the faster choice on dot-product CPUs)."""
    kinds = {t.profile.int8_activation_type() for t in targets}
    if len(kinds) == 1:
        k = kinds.pop()
        return k, f"all targets prefer {k}"
    return "U8", "targets differ (" + ", ".join(f"{t.id}: {t.profile.int8_activation_type()}" for t in targets) + "): U8"


def _board_identity(tp: TargetPlan) -> tuple | None:
    """Which physical board a target is (None: a labgrid tag match, which labgrid's lock keeps apart)."""
    c = tp.profile.connection
    if c.type == "local":
        return ("local", tp.profile.emulated, tp.profile.emulator)
    if c.type == "ssh":
        return ("ssh", c.host, c.port)
    if c.type == "adb":
        return ("adb", c.serial)
    return ("labgrid", c.coordinator, c.place) if c.place else None


def make_plan(study: Study) -> Plan:
    out = Path(study.out)
    targets = [_target_plan(t) for t in study.targets]
    seen: dict[tuple, int] = {}
    for i, tp in enumerate(targets):  # two workers on one board would time each other
        ident = _board_identity(tp)
        if ident is not None and ident in seen:
            raise EdgeferError(f"targets[{i}] ({tp.id}) is the same board as targets[{seen[ident]}] "
                               f"({targets[seen[ident]].id}): a board runs one benchmark at a time")
        if ident is not None:
            seen[ident] = i
    act, why = _int8_activation(targets)
    models = [_model_plan(m, study, out, act) for m in study.models]
    plan = Plan(study, out, models, targets, int8_activation=act if "int8" in study.precisions else None,
                int8_activation_why=why if "int8" in study.precisions else None)
    if TORCH in study.formats:
        for t in targets:
            if not t.runs_torch:
                plan.skipped.append(f"{t.id}: torch (PyTorch eager) runs on the host only")
        for m in models:
            if m.is_artifact:
                plan.skipped.append(f"{m.label}: torch needs the PyTorch model, not a ready artifact")
    return plan


# Profile fields that do not change a measurement: how to log in, where files go, how long to
# wait, which coordinator hands out the place (the place and its tags do count).
_NOT_MEASURED = {"key", "known_hosts", "connect_timeout_s", "strict_host_key_checking", "acquire_timeout_s",
                 "coordinator", "jump", "resource"}


def hash_profile(profile) -> str:
    """What of a profile changes a measurement: the board, its CPU, runtimes, bench defaults,
    the host/port or place it is reached at; not keys, paths or timeouts."""
    import json

    data = profile.model_dump(mode="json")
    data["connection"] = {k: v for k, v in data["connection"].items() if k not in _NOT_MEASURED}
    data.pop("workdir", None)
    data.pop("sources", None)
    data.pop("description", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
