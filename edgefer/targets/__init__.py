"""Target profiles: pydantic schema for targets/*.yaml, loader and hardware-aware checks (host side)."""

from edgefer.targets.loader import list_targets, load_target, resolve_target_path, targets_dir
from edgefer.targets.schema import Target

__all__ = ["Target", "list_targets", "load_target", "resolve_target_path", "targets_dir"]
