"""STUDY.yaml: the pydantic schema of a study and its loader (errors name the field).

    name: my-fer-net                 # optional: the table caption
    models:
      - zoo: mobilenetv3_large        # a zoo model with its keyword arguments
        args: {head: imagenet}
        label: MobileNetV3-L
      - module: mynet.py:build        # the user's own nn.Module factory (path relative to this file)
        args: {width: 0.5}
        weights: ckpt/best.pt
        input: {size: [112, 112], channels: 3}
        label: Ours
      - artifact: exported/ours.onnx  # a ready artifact (or a converted directory)
    formats: [torch, onnx, tflite]    # torch = PyTorch eager on the host
    precisions: [fp32, int8]
    data: {calib: fer2013.csv, eval: fer2013.csv:PublicTest}
    targets:
      - local
      - rpi5                          # a profile in targets/, or a YAML path
      - {profile: rpi4, coordinator: lab:20408, place: rpi4-1}   # a labgrid place
      - {profile: rpi4, coordinator: lab:20408, tags: {board: rpi4}}
    bench: {repeats: 3, runs: 100, warmup: 10, threads: 1}
    out: study-out

Relative paths are relative to the YAML file's directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgefer.errors import EdgeferError
from edgefer.runner.settings import BenchSettings

FORMAT_CHOICES = ("torch", "onnx", "tflite")
_ID = re.compile(r"[^A-Za-z0-9._-]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    """The input of a user module (zoo models know theirs)."""

    size: tuple[int, int] = Field(description="H W")
    channels: int = Field(ge=1)
    color: Literal["rgb", "grayscale"] | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    class_names: list[str] | None = None

    @field_validator("size")
    @classmethod
    def _positive(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 1:
            raise ValueError("must be two positive integers [H, W]")
        return v


class ModelSpec(_Strict):
    """Exactly one of zoo / module / artifact."""

    zoo: str | None = Field(default=None, description="Zoo model name (edgefer models).")
    module: str | None = Field(default=None, description="pkg.module:factory or path/file.py:factory.")
    artifact: str | None = Field(default=None, description="A ready .onnx/.tflite file or a converted directory.")
    args: dict = Field(default_factory=dict, description="Keyword arguments of the zoo model or factory.")
    weights: str | None = None
    input: InputSpec | None = None
    label: str | None = Field(default=None, min_length=1, description="Name in the tables (default: the model's).")

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        given = [k for k in ("zoo", "module", "artifact") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of zoo, module, artifact (got {', '.join(given) or 'none'})")
        if self.module and self.input is None:
            raise ValueError("module needs input: {size: [H, W], channels: C}")
        if self.artifact and (self.args or self.weights or self.input):
            raise ValueError("an artifact takes no args, weights or input (it is already built)")
        return self

    def default_label(self) -> str:
        if self.label:
            return self.label
        if self.zoo:
            return self.zoo + "".join(f" {k}={v}" for k, v in self.args.items())
        if self.module:
            return self.module.rpartition(":")[2]
        return Path(self.artifact.rstrip("/")).stem

    def id(self) -> str:
        return _ID.sub("_", self.default_label()).strip("_") or "model"


class DataSpec(_Strict):
    calib: str | None = Field(default=None, description="int8 calibration data (FER2013 CSV, class folder, .npy).")
    eval: str | None = Field(default=None, description="Evaluation data for the conversion's verification.")
    calib_samples: int = Field(default=256, ge=1)
    eval_samples: int | None = Field(default=1000, ge=1)


class TargetSpec(_Strict):
    """A profile, optionally put on a labgrid place (coordinator + place or tags)."""

    profile: str = Field(min_length=1, description="Profile name (targets/NAME.yaml) or YAML path.")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Name in the tables.")
    coordinator: str | None = Field(default=None, description="labgrid coordinator HOST[:PORT].")
    place: str | None = None
    tags: dict[str, str] | None = None
    acquire_timeout_s: float | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: object) -> object:
        return {"profile": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _lab(self) -> TargetSpec:
        if (self.place or self.tags) and not self.coordinator:
            raise ValueError("place/tags need a coordinator (the labgrid-coordinator HOST[:PORT])")
        if self.place and self.tags:
            raise ValueError("give place or tags, not both")
        if self.coordinator and not (self.place or self.tags):
            raise ValueError("coordinator needs a place or tags")
        return self

    def id(self) -> str:
        return self.name or self.place or Path(self.profile).stem


class BenchSpec(_Strict):
    """The study's `bench:` block: how each cell is benchmarked. The measuring fields are those of
    edgefer.runner.settings.BenchSettings (unset: the target profile's) and are checked by it."""

    repeats: int = Field(default=3, ge=1, le=100, description="Fresh runs per cell, interleaved across the cells of a board.")
    runs: int | None = Field(default=None, description="Timed runs per repeat (default: the profile's).")
    warmup: int | None = None
    min_seconds: float | None = None
    threads: int | None = None
    energy: Literal["auto", "measure", "estimate", "none"] = BenchSettings.default("energy")
    concurrent: bool = Field(default=True, description="Different boards at the same time (one worker per board).")

    @model_validator(mode="after")
    def _check_settings(self) -> "BenchSpec":
        from edgefer.bench.request import check_request

        try:
            check_request(self.settings())
        except EdgeferError as exc:  # reported under `bench` with the YAML file's other errors
            raise ValueError(exc.one_line()) from None
        return self

    def settings(self) -> BenchSettings:
        """What every repeat of a cell measures (`bench()`'s settings)."""
        return BenchSettings(runs=self.runs, warmup=self.warmup, min_seconds=self.min_seconds,
                             threads=self.threads, energy=self.energy)


class Study(_Strict):
    name: str | None = None
    models: list[ModelSpec] = Field(min_length=1)
    formats: list[Literal["torch", "onnx", "tflite"]] = Field(default_factory=lambda: ["onnx", "tflite"], min_length=1)
    precisions: list[Literal["fp32", "int8"]] = Field(default_factory=lambda: ["fp32"], min_length=1)
    data: DataSpec = Field(default_factory=DataSpec)
    targets: list[TargetSpec] = Field(default_factory=lambda: [TargetSpec(profile="local")], min_length=1)
    bench: BenchSpec = Field(default_factory=BenchSpec)
    verify: bool = Field(default=True, description="Verify each artifact against PyTorch when converting.")
    out: str = "study-out"

    @field_validator("formats", "precisions")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _unique_ids(self) -> Study:
        for what, ids in (("models", [m.id() for m in self.models]), ("targets", [t.id() for t in self.targets])):
            seen: dict[str, int] = {}
            for i, x in enumerate(ids):
                if x in seen:
                    hint = "label" if what == "models" else "name"
                    raise ValueError(f"{what}[{i}] has the same name as {what}[{seen[x]}] ({x!r}); give it a {hint}")
                seen[x] = i
        return self


def _format_errors(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = f" (+{len(exc.errors()) - 3} more)" if len(exc.errors()) > 3 else ""
    return f"invalid study {path}: " + "; ".join(parts) + more


def _resolve(value: str | None, base: Path) -> str | None:
    """A path in the spec: ~ and $VARS expanded, relative ones relative to the spec's directory.
    A FER2013 split suffix (file.csv:PublicTest) stays attached."""
    if value is None:
        return None
    v = os.path.expandvars(os.path.expanduser(value))
    return v if os.path.isabs(v) else str(base / v)


def _resolve_module(module: str, base: Path) -> str:
    file, sep, attr = module.partition(":")
    if file.endswith(".py"):
        return f"{_resolve(file, base)}{sep}{attr}"
    return module


def _resolve_profile(profile: str, base: Path) -> str:
    looks_like_path = profile.endswith((".yaml", ".yml")) or "/" in profile
    return _resolve(profile, base) if looks_like_path else profile


def load_study(path: str | os.PathLike, out: str | None = None) -> Study:
    """Read and validate STUDY.yaml; paths in it become absolute (relative to its directory)."""
    p = Path(path)
    if not p.is_file():
        raise EdgeferError(f"study file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise EdgeferError(f"invalid study {p}:{where}: YAML syntax: {getattr(exc, 'problem', None) or exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgeferError(f"study {p}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise EdgeferError(f"invalid study {p}: expected a mapping of fields (models, targets, ...), got {type(data).__name__}")
    try:
        study = Study.model_validate(data)
    except ValidationError as exc:
        raise EdgeferError(_format_errors(p, exc)) from None
    base = p.resolve().parent
    for m in study.models:
        m.weights = _resolve(m.weights, base)
        m.artifact = _resolve(m.artifact, base)
        if m.module:
            m.module = _resolve_module(m.module, base)
    study.data.calib = _resolve(study.data.calib, base)
    study.data.eval = _resolve(study.data.eval, base)
    for t in study.targets:
        t.profile = _resolve_profile(t.profile, base)
    study.out = out if out is not None else _resolve(study.out, base)
    return study
