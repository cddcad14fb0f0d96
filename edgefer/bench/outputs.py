"""Where `bench` writes its reports: checked before anything is measured, written atomically, and a
report that cannot be written kept in a fallback file (or printed) rather than lost."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from edgefer.bench.jobs import Job
from edgefer.errors import EdgeferError


def check_out(out: str | None, n_jobs: int, option: str = "--out") -> None:
    """Refuse an --out (or another output option) that cannot take the reports before anything is measured."""
    if out is None:
        return
    if n_jobs > 1 and os.path.exists(out) and not os.path.isdir(out):
        raise EdgeferError(f"{option} {out} is a file, but {n_jobs} reports need a directory",
                           hint="give a directory (it is created) or a file with --format/--precision for "
                                "one report")
    probe = out if (n_jobs > 1 or os.path.isdir(out)) else (os.path.dirname(os.path.abspath(out)) or ".")
    existing = probe
    while existing and not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if existing and not os.path.isdir(existing):
        raise EdgeferError(f"{option} {out}: {existing} is a file, not a directory")
    if existing and not os.access(existing, os.W_OK):
        raise EdgeferError(f"{option} {out}: {existing} is not writable")


def save_report(path: str, report: dict[str, Any]) -> None:
    """Write a report atomically; if that fails, keep it in a fallback file and say where, in one line."""
    from edgefer.runner.files import write_json_atomic

    try:
        write_json_atomic(path, report)
        return
    except OSError as exc:
        reason = exc.strerror or str(exc)
    fallback = save_fallback(report, os.path.basename(path) or "report.json")
    if fallback is not None:
        raise EdgeferError(f"cannot write {path} ({reason}); the measured report was saved to {fallback}")
    sys.stdout.write(json.dumps(report) + "\n")
    raise EdgeferError(f"cannot write {path} ({reason}) nor a fallback file; the report was printed to "
                       f"stdout")


def save_fallback(report: dict[str, Any], name: str) -> str | None:
    """The report in a fresh file of the temp dir, home or cwd (the first that takes it) -> its path."""
    import tempfile
    import time

    from edgefer.runner.files import write_json_atomic

    name = f"edgefer-report-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{name}"
    for folder in (tempfile.gettempdir(), os.path.expanduser("~"), os.getcwd()):
        fallback = os.path.join(folder, name)
        try:
            write_json_atomic(fallback, report)
        except OSError:
            continue
        return fallback
    return None


def report_path(out: str, job: Job, n_jobs: int) -> str:
    """One report -> the file `out`; several -> `out/<artifact file>.json`."""
    if n_jobs == 1 and not os.path.isdir(out):
        return out
    return os.path.join(out, os.path.basename(job.path.rstrip("/")) + ".json")
