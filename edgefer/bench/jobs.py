"""What `bench` measures: the artifact files (or a torch model spec) and what their manifest says of them.

A converted directory gives one job per manifest artifact matching --format/--precision; a file
listed in the manifest beside it carries that record. A file that no longer matches its
manifest's sha256 is refused, so a report never carries labels that are not the file's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from edgefer.errors import EdgeferError


@dataclass
class Job:
    """One thing to benchmark: a model file (or a torch model spec) and what the manifest says of it."""

    path: str
    precision: str | None = None
    manifest: dict[str, Any] | None = None
    record: dict[str, Any] | None = None  # the manifest's entry for this artifact


def resolve_jobs(artifact: str, fmt: str | None = None, precision: str | None = None,
                 runtime: str | None = None) -> list[Job]:
    """Files to benchmark: the file itself, or every manifest artifact matching --format/--precision."""
    from edgefer.convert.manifest import read_manifest, select_artifacts

    if runtime == "torch":  # eager reference: a zoo name or a converted dir (its source model)
        manifest = read_manifest(artifact) if os.path.isdir(artifact) else None
        return [Job(artifact, "fp32", manifest)]
    if os.path.isfile(artifact):
        return [file_job(artifact, precision)]
    if not os.path.isdir(artifact):
        raise EdgeferError(f"artifact not found: {artifact} (expected an .onnx/.tflite file or a converted "
                           f"directory)")
    manifest = read_manifest(artifact)
    records = select_artifacts(artifact, manifest, fmt, precision)
    jobs = [Job(os.path.join(artifact, a["file"]), a.get("precision"), manifest, a) for a in records]
    for job in jobs:
        check_sha256(job)
    return jobs


def file_job(path: str, precision: str | None) -> Job:
    """A file; when the manifest.json beside it lists it, the job carries that record (model facts,
    precision) after the same sha256 check a directory bench makes."""
    from edgefer.convert.manifest import read_manifest

    man_path = os.path.join(os.path.dirname(os.path.abspath(path)), "manifest.json")
    if os.path.isfile(man_path):
        try:
            manifest = read_manifest(os.path.dirname(os.path.abspath(path)))
        except EdgeferError:
            manifest = None  # not ours, or unreadable: bench the file alone
        listed = (manifest or {}).get("artifacts", [])
        rec = next((a for a in listed if a.get("file") == os.path.basename(path)), None)
        if rec is not None:
            job = Job(path, precision or rec.get("precision"), manifest, rec)
            check_sha256(job)
            return job
    return Job(path, precision)


def check_sha256(job: Job) -> None:
    """A file that no longer matches its manifest entry must not be benchmarked under its label."""
    from edgefer.runner.files import sha256_file

    want = (job.record or {}).get("sha256")
    if not os.path.isfile(job.path):
        raise EdgeferError(f"{job.path} is listed in the manifest but missing", hint="re-run edgefer convert")
    if want and sha256_file(job.path) != want:
        raise EdgeferError(f"{job.path} does not match its manifest entry (sha256 differs): it was changed "
                           f"after conversion, so its precision/format labels cannot be trusted",
                           hint="re-run edgefer convert")
