"""manifest.json: what was converted, from what, how, and how well it was verified.

Written last and atomically (temp file + rename): a directory with a manifest.json is a
finished conversion; without one it is not.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from edgefer.errors import EdgeferError
from edgefer.runner.files import sha256_file

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = "1"


def artifact_record(path: Path, fmt: str, precision: str, info: dict) -> dict:
    """One artifact entry: file facts plus what the converter reported."""
    return {
        "file": path.name,
        "format": fmt,
        "precision": precision,
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        **info,
    }


def new_manifest(**fields) -> dict:
    from edgefer import __version__

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "edgefer.convert.manifest",
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "edgefer_version": __version__,
        **fields,
    }


def read_manifest(out_dir: str | Path) -> dict:
    """The manifest of a converted directory; a one-line EdgeferError when it is missing or bad."""
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        raise EdgeferError(f"{out_dir} is a directory without {MANIFEST_NAME} (not a converted artifact directory)")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeferError(f"invalid manifest {path}: {exc}") from None


def select_artifacts(directory: str, manifest: dict, fmt: str | None, precision: str | None,
                     what: str = "artifact") -> list[dict]:
    """The manifest's artifact records matching --format/--precision (None: any); none is an error."""
    records = [a for a in manifest.get("artifacts", [])
               if (fmt is None or a.get("format") == fmt) and (precision is None or a.get("precision") == precision)]
    if not records:
        have = ", ".join(f"{a.get('format')}/{a.get('precision')}" for a in manifest.get("artifacts", [])) or "none"
        raise EdgeferError(f"no {what} in {directory} matches format={fmt or 'any'} precision={precision or 'any'} "
                           f"(it has: {have})")
    return records
