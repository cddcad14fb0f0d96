"""Target profiles: pydantic schema for targets/*.yaml (and the user's own profiles), loader and
hardware-aware checks (host side)."""

from edgefer.targets.loader import (
    find_profiles,
    list_targets,
    load_target,
    profile_origin,
    resolve_target_path,
    targets_dir,
    user_targets_dirs,
)
from edgefer.targets.schema import Target

__all__ = [
    "Target",
    "find_profiles",
    "list_targets",
    "load_target",
    "profile_origin",
    "resolve_target_path",
    "targets_dir",
    "user_targets_dirs",
]
