"""Find and load target profiles; every failure is an EdgeferError naming the file and field."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from edgefer.errors import EdgeferError
from edgefer.targets.host import host_arch, host_cpu
from edgefer.targets.schema import Target

# targets/ sits beside the edgefer package in the repository (the package is installed editable).
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "targets"


def targets_dir() -> Path:
    return BUILTIN_DIR


def list_targets() -> list[str]:
    """Names of the built-in profiles (targets/*.yaml), sorted."""
    return sorted(p.stem for p in targets_dir().glob("*.yaml"))


def resolve_target_path(name_or_path: str | os.PathLike) -> Path:
    """A name means targets/NAME.yaml; anything that looks like a path is taken as is."""
    s = str(name_or_path)
    if s.endswith((".yaml", ".yml")) or os.sep in s or "/" in s or Path(s).is_file():
        path = Path(s).expanduser()
        if not path.is_file():
            raise EdgeferError(f"target profile {s}: file not found")
        return path
    path = targets_dir() / f"{s}.yaml"
    if not path.is_file():
        known = ", ".join(list_targets()) or "none"
        raise EdgeferError(f"unknown target {s!r}", hint=f"known targets: {known}; or pass a YAML file path")
    return path


def _format_validation(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in {"local", "ssh", "adb", "labgrid"})) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid target profile {path}: " + "; ".join(parts)


def _host_path(value: str | None, base: Path) -> str | None:
    """Host-side file paths: ~ and $VARS expanded, relative ones relative to the YAML file."""
    if value is None:
        return None
    p = Path(os.path.expandvars(os.path.expanduser(value)))
    return str(p if p.is_absolute() else (base / p).resolve())


def parse_target(data: object, path: Path) -> Target:
    if not isinstance(data, dict):
        raise EdgeferError(f"invalid target profile {path}: expected a mapping of fields, got {type(data).__name__}")
    # `auto` describes the machine edgefer runs on: only meaningful for a local target.
    if data.get("arch") == "auto" or data.get("cpu") == "auto":
        if (data.get("connection") or {}).get("type", "local") != "local":
            raise EdgeferError(f"invalid target profile {path}: arch/cpu 'auto' only for connection type local")
        data = {**data}
        if data.get("arch") == "auto":
            data["arch"] = host_arch()
        if data.get("cpu") == "auto":
            data["cpu"] = host_cpu()
    try:
        target = Target.model_validate(data)
    except ValidationError as exc:
        raise EdgeferError(_format_validation(path, exc)) from None
    conn = target.connection
    if conn.type in ("ssh", "labgrid"):
        base = path.resolve().parent
        update = {"key": _host_path(conn.key, base), "known_hosts": _host_path(conn.known_hosts, base)}
        if conn.type == "labgrid":
            update["coordinator"] = os.path.expandvars(conn.coordinator)
        target.connection = conn.model_copy(update=update)
    target._path = str(path)
    return target


def load_target(name_or_path: str | os.PathLike | Target) -> Target:
    """Load a profile by name (targets/NAME.yaml) or path; a Target passes through."""
    if isinstance(name_or_path, Target):
        return name_or_path
    path = resolve_target_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EdgeferError(f"invalid target profile {path}:{where}: YAML syntax: {problem}") from None
    except OSError as exc:
        raise EdgeferError(f"target profile {path}: cannot read: {exc.strerror}") from None
    return parse_target(data, path)
