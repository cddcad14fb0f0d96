"""What deploy copies: the lean runner (device-side rule in docs/ARCHITECTURE.md) and the artifact."""

from __future__ import annotations

from pathlib import Path

import edgefer

PACKAGE_DIR = Path(edgefer.__file__).resolve().parent
# Exactly the device-side files: stdlib + numpy + runtime only, no torch.
RUNNER_FILES = ("__init__.py", "errors.py")
RUNNER_TREES = ("runner",)
MANIFEST_NAME = "manifest.json"


def runner_files() -> list[tuple[Path, str]]:
    """(local file, path relative to the device work dir) for the runner package."""
    files = [(PACKAGE_DIR / name, f"edgefer/{name}") for name in RUNNER_FILES]
    for tree in RUNNER_TREES:
        for path in sorted((PACKAGE_DIR / tree).rglob("*.py")):
            files.append((path, f"edgefer/{path.relative_to(PACKAGE_DIR).as_posix()}"))
    return files


def artifact_dir(sha256: str) -> str:
    # one directory per content hash: same-named artifacts (fp32/int8 runs) never clobber each other
    return f"artifacts/{sha256[:16]}"


def artifact_files(artifact: Path, sha256: str) -> list[tuple[Path, str]]:
    """The artifact, its ONNX external-data file if any, and the conversion manifest beside it."""
    base = artifact_dir(sha256)
    files = [(artifact, f"{base}/{artifact.name}")]
    for extra in (artifact.with_name(artifact.name + ".data"), artifact.parent / MANIFEST_NAME):
        if extra.is_file() and extra != artifact:
            files.append((extra, f"{base}/{extra.name}"))
    return files
