"""Local transport: the "device" is this machine; commands run through sh like on a board."""

from __future__ import annotations

import os

from edgefer.deploy.transport import RunResult, Transport
from edgefer.errors import EdgeferError


class LocalTransport(Transport):
    kind = "local"

    def _host_argv(self, line: str) -> list[str]:
        return ["sh", "-c", line]

    def _transport_error(self, result: RunResult, step: str) -> EdgeferError | None:
        return None  # no link that could fail: every non-zero exit is the command's

    def resolve(self, path: str) -> str:
        return os.path.expanduser(path)
