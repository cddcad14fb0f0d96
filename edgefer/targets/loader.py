"""Find and load target profiles; every failure is an EdgeferError naming the file and field.

A name is NAME.yaml in the user's folders ($EDGEFER_TARGETS_PATH, else ~/.config/edgefer/targets)
or else among the built-in profiles (package data: the repository's targets/ folder). The user's
folders come first so that a board's own copy of a built-in profile (its host, its key) replaces it
without editing the installed package. docs/targets.md says the same for users."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from edgefer.errors import EdgeferError
from edgefer.targets.host import host_arch, host_cpu
from edgefer.targets.schema import Target

BUILTIN_PACKAGE = "edgefer.profiles"  # the repository's targets/ folder, mapped in by pyproject's package-dir
PATH_VAR = "EDGEFER_TARGETS_PATH"
BUILTIN = "built-in"
CONNECTION_TAGS = {"local", "ssh", "adb", "labgrid"}


def targets_dir() -> Path:
    """The built-in profiles: package data, read through importlib.resources (editable install or wheel)."""
    try:
        root = resources.files(BUILTIN_PACKAGE)
    except ModuleNotFoundError:
        # an editable install made before targets/ became package data has no mapping for it yet
        raise EdgeferError(f"the built-in target profiles ({BUILTIN_PACKAGE}) are not installed",
                           hint="reinstall edgefer: pip install -e . (or scripts/setup)") from None
    if not isinstance(root, Path):  # a zipped install: profiles need real files (relative key paths, t.path)
        raise EdgeferError(f"the built-in target profiles are not plain files ({root})",
                           hint="install edgefer unpacked (pip install)")
    return root


def user_targets_dirs() -> list[Path]:
    """$EDGEFER_TARGETS_PATH (os.pathsep-separated) if set, else $XDG_CONFIG_HOME/edgefer/targets
    (~/.config/edgefer/targets); folders that do not exist are skipped."""
    listed = os.environ.get(PATH_VAR, "")
    if listed:
        dirs = [Path(d).expanduser() for d in listed.split(os.pathsep) if d]
    else:
        config_home = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
        dirs = [Path(config_home).expanduser() / "edgefer" / "targets"]
    return [d for d in dirs if d.is_dir()]


def find_profiles() -> dict[str, Path]:
    """name -> profile file, over the user folders first, then the built-in ones: the first folder
    that has NAME.yaml wins, so a user profile named like a built-in one replaces it."""
    found: dict[str, Path] = {}
    for folder in [*user_targets_dirs(), targets_dir()]:
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def profile_origin(path: str | os.PathLike) -> str:
    """Where a profile file comes from, for listings: 'built-in' or the user folder that holds it."""
    folder = Path(path).parent
    return BUILTIN if folder == targets_dir() else str(folder)


def list_targets() -> list[str]:
    """Names of every profile that a name finds (user folders and built-in), sorted."""
    return sorted(find_profiles())


def resolve_target_path(name_or_path: str | os.PathLike) -> Path:
    """A name means NAME.yaml in the user folders or the built-in ones; anything that looks like a path
    is taken as is."""
    s = str(name_or_path)
    if s.endswith((".yaml", ".yml")) or os.sep in s or "/" in s or Path(s).is_file():
        path = Path(s).expanduser()
        if not path.is_file():
            raise EdgeferError(f"target profile {s}: file not found")
        return path
    profiles = find_profiles()
    if s not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise EdgeferError(f"unknown target {s!r}", hint=f"known targets: {known}; or pass a YAML file path")
    return profiles[s]


def _format_validation(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        # the connection union's tag (local/ssh/adb/labgrid) is pydantic's, not a field the user wrote
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in CONNECTION_TAGS))
        loc = loc or "(top level)"
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
    """Load a profile by name (user folders, then targets/NAME.yaml) or path; a Target passes through."""
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
