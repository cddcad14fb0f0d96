"""The conversion step of a study: each model converted once (cached by a key of everything it
depends on), and the cells (target x model x format/precision) its artifacts give."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Callable

from edgefer.bench.cache import convert_once, one_line
from edgefer.errors import EdgeferError
from edgefer.runner.files import write_text_atomic
from edgefer.study.plan import TORCH, Cell, ModelPlan, Plan
from edgefer.study.workers import DISK_FULL, CellRun, StudyContext

KEY_FILE = "study-key.json"


def _convert(m: ModelPlan, step: Callable) -> dict:
    """The model's manifest, converting only when the stored key differs (model, weights, settings)."""
    key_path = m.dir / KEY_FILE

    def reusable(_manifest: dict) -> bool:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(key_path.read_text()) == json.loads(json.dumps(m.key, default=str))
        return False

    manifest = convert_once(m.dir, m.convert_options, step, reusable)
    write_text_atomic(key_path, json.dumps(m.key, default=str, indent=1, sort_keys=True))
    return manifest


def _model_facts(m: ModelPlan, manifest: dict | None) -> dict:
    model = (manifest or {}).get("model") or {}
    return {"id": m.id, "label": m.label, "source": (manifest or {}).get("source") or _source(m),
            "params": model.get("params_total", model.get("params")), "macs": model.get("macs"),
            "flops": model.get("flops"), "input": (manifest or {}).get("input"),
            "weights": (manifest or {}).get("weights"), "dir": str(m.dir),
            "warnings": (manifest or {}).get("warnings", []), "failed": (manifest or {}).get("failed", []),
            "error": None}


def _source(m: ModelPlan) -> dict:
    s = m.spec
    if s.zoo:
        return {"type": "zoo", "name": s.zoo, "args": s.args}
    if s.module:
        return {"type": "module", "module": s.module, "args": s.args}
    return {"type": "artifact", "path": s.artifact}


def _artifact_cells(m: ModelPlan, manifest: dict | None, plan: Plan) -> list[tuple[str, str | None, dict | None, str | None]]:
    """(format, precision, artifact record, error) of every cell of this model (target aside)."""
    from edgefer.runner.files import sha256_file

    spec_path = Path(m.spec.artifact) if m.is_artifact else None
    if spec_path is not None and spec_path.is_file():
        fmt = spec_path.suffix.lstrip(".")
        rec = {"path": str(spec_path), "file": spec_path.name, "sha256": sha256_file(spec_path),
               "size_bytes": spec_path.stat().st_size}
        return [(fmt, None, rec, None)]
    arts = {(a["format"], a["precision"]): a for a in (manifest or {}).get("artifacts", [])}
    out = []
    for fmt, prec in plan.series():
        if fmt == TORCH:
            if not m.is_artifact:
                out.append((fmt, prec, {"path": str(m.dir), "file": None, "sha256": None, "size_bytes": None}, None))
            continue
        a = arts.get((fmt, prec))
        if a is None:
            if m.is_artifact:
                continue  # a ready directory offers what it has
            why = [f for f in (manifest or {}).get("failed", []) if f.startswith(f"{fmt} ")]
            out.append((fmt, prec, None, why[0] if why else f"{fmt} {prec}: not produced by convert"))
            continue
        # benched through the converted directory: the report then carries the manifest's model facts
        rec = {"path": str(m.dir / a["file"]), "file": a["file"], "sha256": a.get("sha256"),
               "size_bytes": a.get("size_bytes"), "verification": a.get("verification"), "from_dir": str(m.dir)}
        out.append((fmt, prec, rec, None))
    return out


def convert_models(ctx: StudyContext, plan: Plan) -> list[CellRun]:
    runs: list[CellRun] = []
    per_model: dict[str, list] = {}
    for m in plan.models:
        manifest = None
        error = None
        try:
            if m.is_artifact:
                if m.dir.is_dir() and (m.dir / "manifest.json").is_file() and Path(m.spec.artifact).is_dir():
                    from edgefer.convert.manifest import read_manifest

                    manifest = read_manifest(m.dir)
            else:
                if ctx.progress is not None:
                    ctx.progress.update(ctx.task, description=f"study: convert {m.label}")
                manifest = _convert(m, lambda desc, _m=m: _step(ctx, f"study: convert {_m.label}: {desc}"))
                ctx.advance()
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise EdgeferError(f"disk full while converting {m.label}: {exc.strerror}") from None
            error = one_line(exc)
        except Exception as exc:  # one model failing must not stop the others
            error = one_line(exc)
            if not m.is_artifact:
                ctx.advance()
        facts = _model_facts(m, manifest)
        facts["error"] = error
        ctx.models[m.id] = facts
        per_model[m.id] = ([(None, None, None, error)] if error else _artifact_cells(m, manifest, plan))
    for tp in plan.targets:
        for m in plan.models:
            for fmt, prec, rec, err in per_model[m.id]:
                if fmt == TORCH and not tp.runs_torch:
                    continue
                cell = Cell(tp.id, m.id, fmt or "model", prec)
                runs.append(CellRun(cell, rec, error=err))
    return runs


@contextlib.contextmanager
def _step(ctx: StudyContext, desc: str):
    if ctx.progress is not None:
        ctx.progress.update(ctx.task, description=desc)
    yield
