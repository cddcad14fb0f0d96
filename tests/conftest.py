"""In CI (CI=true), a test that needs the emulated board, sshd, the TFLite extra or chromium must run:
.ci/run installs all of them, so a skip there means the set-up broke, and a green run that
silently skipped the ARM path would be a lie. Locally such tests still skip with their reason."""

from __future__ import annotations

import os

import pytest

MUST_RUN_IN_CI = {"qemu", "ssh", "tflite", "browser", "labgrid"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes") or not report.skipped:
        return
    needs = MUST_RUN_IN_CI & {m.name for m in item.iter_markers()}
    if needs:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, but CI installs what it needs ({', '.join(sorted(needs))}): {reason}"


@pytest.fixture
def hold_board(tmp_path, monkeypatch):
    """hold_board("a study") -> this machine's board lock, held as that holder (in a lock dir of
    the test's own) until released or the test ends."""
    from edgefer.runner.lock import BoardLock, whoami

    monkeypatch.setenv("EDGEFER_LOCK_DIR", str(tmp_path))
    held = []

    def hold(what: str) -> BoardLock:
        lock = BoardLock(whoami(what))
        lock.acquire(0)
        held.append(lock)
        return lock

    yield hold
    for lock in held:
        lock.release()
