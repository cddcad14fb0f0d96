"""Published efficiency figures of the seed papers: schema and loader for papers.yaml
(package data beside this module).

    papers = load_papers()                 # edgefer/reproduce/papers.yaml
    paper = papers.get("mobilenetv3-ca-dka")   # by seed id, short name or unique id prefix
    papers.select("all")                   # every paper

Values are kept exactly as printed (unit included); `Figure.base_value()` converts to the
units edgefer measures in (params and FLOPs as counts, latency in ms, throughput in samples/s,
energy in J), so a ratio ours/published is always taken in one unit.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgefer.errors import EdgeferError

# product data, shipped in the wheel (pyproject package-data); resources finds it installed or editable
DEFAULT_PATH = Path(str(resources.files(__package__) / "papers.yaml"))

Metric = Literal["params", "flops", "latency", "throughput", "energy", "model_size"]

# unit -> factor to the base unit of each metric.
_UNITS: dict[str, dict[str, float]] = {
    "params": {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9},
    "flops": {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9},
    "latency": {"ms": 1.0, "s": 1e3, "us": 1e-3},
    "throughput": {"FPS": 1.0, "samples/s": 1.0},
    "energy": {"J": 1.0, "mJ": 1e-3},
    "model_size": {"MB": 1.0, "MiB": 1.048576, "KB": 1e-3},
}
BASE_UNIT = {"params": "count", "flops": "count", "latency": "ms", "throughput": "samples/s",
             "energy": "J", "model_size": "MB"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    file: str  # seed file name, e.g. 000_2f938d631e59cb84.txt
    where: str  # table / section
    page: int | None = None
    quote: str  # verbatim from the seed text

    def cite(self) -> str:
        page = f", p. {self.page}" if self.page else ""
        return f"{self.file}, {self.where}{page}"


class Figure(_Strict):
    metric: Metric
    value: float
    unit: str
    convention: str | None = None
    setting: str  # key into Paper.settings
    dataset: str | None = None
    # for latency: which statistic the paper reports, so ours is compared like for like
    statistic: Literal["mean", "median", "unstated"] = "unstated"
    source: Source

    @model_validator(mode="after")
    def _known_unit(self) -> "Figure":
        if self.unit not in _UNITS[self.metric]:
            raise ValueError(f"unit {self.unit!r} unknown for {self.metric} (known: {sorted(_UNITS[self.metric])})")
        return self

    def base_value(self) -> float:
        """The value in BASE_UNIT[metric]."""
        return self.value * _UNITS[self.metric][self.unit]

    def printed(self) -> str:
        return f"{self.value:g} {self.unit}".strip()


class Claim(_Strict):
    id: str
    statement: str
    metric: Metric
    subject: str  # zoo model name
    reference: str  # zoo model name
    # subject vs reference: "lower" / "higher" strictly; "not_higher" = lower or no difference.
    direction: Literal["lower", "higher", "not_higher", "not_lower"]
    expected_ratio: float | None = None  # subject/reference as implied by the paper's own table
    source: Source


class PaperModel(_Strict):
    zoo: str
    label: str  # as printed in the paper
    role: Literal["baseline", "ablation", "proposed"]
    figures: list[Figure] = Field(default_factory=list)

    def figures_for(self, metric: str) -> list[Figure]:
        return [f for f in self.figures if f.metric == metric]


class Paper(_Strict):
    id: str  # seed file stem
    short_name: str
    title: str
    doi: str | None = None
    notes: str = ""
    settings: dict[str, str] = Field(default_factory=dict)
    models: list[PaperModel]
    claims: list[Claim] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> "Paper":
        zoo = [m.zoo for m in self.models]
        if len(set(zoo)) != len(zoo):
            raise ValueError(f"{self.id}: a zoo model is listed twice")
        for m in self.models:
            for f in m.figures:
                if f.setting not in self.settings:
                    raise ValueError(f"{self.id}/{m.zoo}: setting {f.setting!r} not in settings")
                if not f.source.file.startswith(self.id):
                    raise ValueError(f"{self.id}/{m.zoo}: source file {f.source.file} is another paper's")
        for c in self.claims:
            for name in (c.subject, c.reference):
                if name not in zoo:
                    raise ValueError(f"{self.id}: claim {c.id} names {name!r}, not one of the paper's models")
        return self

    def model(self, zoo_name: str) -> PaperModel:
        for m in self.models:
            if m.zoo == zoo_name:
                return m
        raise EdgeferError(f"paper {self.short_name} has no model {zoo_name!r}")


class Papers(_Strict):
    schema_version: Literal[1]
    papers: list[Paper]

    @model_validator(mode="after")
    def _unique(self) -> "Papers":
        keys = [p.id for p in self.papers] + [p.short_name for p in self.papers]
        if len(set(keys)) != len(keys):
            raise ValueError("paper ids and short names must be unique")
        return self

    def names(self) -> list[str]:
        return [p.short_name for p in self.papers] + [p.id for p in self.papers]

    def get(self, key: str) -> Paper:
        """A paper by seed id (`000_2f938d631e59cb84`), its unique prefix (`000`) or short name."""
        for p in self.papers:
            if key in (p.id, p.short_name):
                return p
        prefixed = [p for p in self.papers if p.id.startswith(key)] if key else []
        if len(prefixed) == 1:
            return prefixed[0]
        close = difflib.get_close_matches(key, self.names(), n=3, cutoff=0.4)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(p.short_name for p in self.papers)}, all"
        raise EdgeferError(f"unknown paper {key!r}", hint=hint)

    def select(self, key: str) -> list[Paper]:
        """`all` -> every paper; otherwise the one paper `get(key)` finds."""
        return list(self.papers) if key == "all" else [self.get(key)]


def load_papers(path: str | Path | None = None) -> Papers:
    """Read and validate papers.yaml (default: the one shipped with edgefer, DEFAULT_PATH)."""
    import yaml

    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EdgeferError(f"papers file not found: {p}") from None
    except yaml.YAMLError as exc:
        raise EdgeferError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return Papers.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise EdgeferError(f"{p}: {loc}: {err['msg']}") from None
