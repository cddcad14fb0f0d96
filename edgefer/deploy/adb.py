"""ADB transport: `adb -s SERIAL shell|push|pull` (Android phones and boards)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from edgefer.deploy.transport import RunResult, Transport
from edgefer.errors import EdgeferError

# adb's own failures -> (step, problem)
_ADB_ERRORS = (
    (("unauthorized",), "authentication", "device unauthorized (accept the USB debugging prompt on the device)"),
    (("not found", "no devices", "no emulators", "offline", "cannot connect", "failed to connect"), "connect",
     "device not reachable"),
    (("device disconnected", "connection reset", "protocol fault", "closed"), None, "disconnected"),
)


class ADBTransport(Transport):
    kind = "adb"

    def _adb(self) -> list[str]:
        serial = self.target.connection.serial
        return ["adb", "-s", serial] if serial else ["adb"]

    def _host_argv(self, line: str) -> list[str]:
        # adb joins its arguments with spaces for the device shell: pass the line as one
        return [*self._adb(), "shell", line]

    def _transport_error(self, result: RunResult, step: str) -> EdgeferError | None:
        if result.rc == 0:
            return None
        adb_lines = [line for line in result.stderr_tail if line.startswith(("adb:", "error:", "* daemon"))]
        text = "\n".join(adb_lines).lower()
        for fragments, kind, problem in _ADB_ERRORS:
            if any(f in text for f in fragments):
                serial = self.target.connection.serial or "(only device)"
                where = f"adb device {serial}"
                detail = adb_lines[-1].strip()
                if kind is None:
                    return self.fail(step, f"{problem} from {where} ({detail})")
                return self.fail(step if kind == step else f"{step} ({kind})", f"{problem}: {where} ({detail})")
        return None

    def _host_tool(self, args: list[str], step: str) -> None:
        """adb push/pull: run on the host, failures named like shell failures."""
        try:
            proc = subprocess.run([*self._adb(), *args], capture_output=True, text=True)
        except FileNotFoundError:
            raise self.fail(step, "'adb' is not installed on this machine") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines() or ["no output"]
            result = RunResult(proc.returncode, b"", tail)
            raise self._transport_error(result, step) or self.fail(step, f"adb {args[0]} failed: {tail[-1]}")

    def put_files(self, files: list[tuple[Path, str]], remote_dir: str, *, step: str = "copy") -> None:
        # adb push takes device paths literally (no shell), creating parent directories itself
        for local, rel in files:
            self._host_tool(["push", str(local), f"{remote_dir}/{rel}"], step)

    def get_file(self, remote: str, local: Path, *, step: str = "fetch") -> bool:
        res = self.run(["test", "-f", remote], step=step, check=False)
        if res.rc != 0:
            return False
        self._host_tool(["pull", remote, str(local)], step)
        return True

    def describe(self) -> str:
        return f"adb {self.target.connection.serial or '(only device)'}"
