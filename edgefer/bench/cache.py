"""The convert -> bench loop shared by `reproduce` and `study`: a report cache, conversions
done once, and one-line errors for a cell that failed.

    cache = ReportCache(out)                       # OUT/cache.json
    rep = cache.get(cell_id, key)                  # None: not measured with these settings
    cache.put(cell_id, key, "reports/x.json")      # after the report file is written
    manifest = convert_once(d, opts, step, reusable=lambda m: ...)

A cache hit needs the same key (sha256 of the settings that change a measurement, the
artifact's sha256 among them) and the report file still present, so deleting a report
measures it again. Thread-safe: a study's board workers put entries concurrently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from pathlib import Path
from typing import Callable, ContextManager

from edgefer.errors import EdgeferError
from edgefer.runner.files import write_text_atomic

CACHE_VERSION = 1

# A step wraps one unit of work for progress display: step(description) -> context manager.
Step = Callable[[str], ContextManager]


def one_line(exc: BaseException) -> str:
    """An exception as the one line a table cell or an error message shows."""
    if isinstance(exc, EdgeferError):
        return exc.one_line()
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def key_hash(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


class ReportCache:
    """OUT/cache.json: cell id -> {key, report}; a hit needs the same key and the report file present."""

    def __init__(self, out: Path, enabled: bool = True):
        self.path = Path(out) / "cache.json"
        self.out = Path(out)
        self.enabled = enabled
        self.entries: dict[str, dict] = {}
        self._lock = threading.Lock()
        if enabled and self.path.is_file():
            with contextlib.suppress(OSError, json.JSONDecodeError):
                data = json.loads(self.path.read_text())
                if data.get("version") == CACHE_VERSION:
                    self.entries = data.get("entries", {})

    key_hash = staticmethod(key_hash)

    def get(self, cell_id: str, key: dict) -> dict | None:
        e = self.entries.get(cell_id) if self.enabled else None
        if not e or e.get("key") != key_hash(key):
            return None
        path = self.out / e["report"]
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def put(self, cell_id: str, key: dict, report_rel: str) -> None:
        with self._lock:
            self.entries[cell_id] = {"key": key_hash(key), "report": report_rel, "settings": key}
            write_text_atomic(self.path, json.dumps({"version": CACHE_VERSION, "entries": self.entries}, indent=1))


def convert_once(d: Path, opts, step: Step, reusable: Callable[[dict], bool]) -> dict:
    """Convert into `d` unless its manifest is `reusable` and all its artifacts are there;
    returns the manifest. An unreadable manifest is converted again, not an error."""
    from edgefer.convert import convert
    from edgefer.convert.manifest import MANIFEST_NAME, read_manifest

    if (d / MANIFEST_NAME).is_file():
        with contextlib.suppress(EdgeferError):
            m = read_manifest(d)
            if reusable(m) and all((d / a["file"]).is_file() for a in m.get("artifacts", [])):
                return m
    d.mkdir(parents=True, exist_ok=True)
    return convert(opts, step=step, check=False).manifest
