"""SSH transport: the system `ssh`, key auth only, strict host-key checking by default.

BatchMode=yes makes ssh fail instead of prompting (for a password or an unknown host
key), so every failure is an exit status plus a stderr line we can name. ssh exits 255
for its own errors and passes the device command's exit status through otherwise.
"""

from __future__ import annotations

from edgefer.deploy.transport import RunResult, Transport
from edgefer.errors import EdgeferError

# stderr fragments of ssh's own failures -> (step, problem); first match wins
_SSH_ERRORS = (
    (("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED", "No ED25519 host key is known",
      "No RSA host key is known", "No ECDSA host key is known"), "host key", "host key not trusted"),
    (("Permission denied", "Too many authentication failures", "no mutual signature"), "authentication",
     "authentication failed"),
    (("Could not resolve hostname", "Name or service not known", "Temporary failure in name resolution"),
     "connect", "host name not resolved"),
    (("Connection refused", "No route to host", "Network is unreachable", "Connection timed out",
      "Operation timed out"), "connect", "host unreachable"),
    (("closed by remote host", "Connection reset", "Broken pipe", "Connection closed by", "Timeout, server",
      "client_loop: send disconnect", "connection lost"), None, "connection lost"),
)

_HINTS = {
    "host key": "pin the board's key in the profile's known_hosts file (ssh-keyscan -p PORT HOST, then verify it)",
    "authentication": "check connection.user and connection.key, and that the public key is in the board's authorized_keys",
    "connect": "check connection.host/port and that the board is on and runs sshd",
}


def _config_value(value: str) -> str:
    # ssh parses -o values like config lines: whitespace separates items unless double-quoted.
    if '"' in value:
        raise EdgeferError(f"ssh option value {value!r} must not contain a double quote")
    return f'"{value}"' if any(c.isspace() for c in value) else value


class SSHTransport(Transport):
    kind = "ssh"

    def ssh_options(self) -> list[str]:
        c = self.target.connection
        opts = [
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={c.connect_timeout_s}",
            "-o", f"StrictHostKeyChecking={'yes' if c.strict_host_key_checking else 'no'}",
            # a board that vanishes mid-run is noticed within ~60 s instead of hanging forever
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
            "-p", str(c.port),
        ]
        if c.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={_config_value(c.known_hosts)}"]
        if c.key:
            opts += ["-i", c.key, "-o", "IdentitiesOnly=yes"]
        if c.user:
            opts += ["-l", c.user]
        if c.jump:
            opts += ["-J", c.jump]
        return opts

    def _host_argv(self, line: str) -> list[str]:
        return ["ssh", *self.ssh_options(), "--", self.target.connection.host, line]

    def _transport_error(self, result: RunResult, step: str) -> EdgeferError | None:
        if result.rc != 255:
            return None
        text = "\n".join(result.stderr_tail)
        c = self.target.connection
        where = f"{c.user + '@' if c.user else ''}{c.host}:{c.port}"
        for fragments, kind, problem in _SSH_ERRORS:
            hit = next((f for f in fragments if f in text), None)
            if hit is not None:
                if kind is None:  # lost during this step
                    return self.fail(step, f"disconnected from {where} ({_line_with(text, hit)})")
                hint = _HINTS[kind]
                if kind == "connect" and self.target.emulated:
                    hint = "the emulated board's sshd runs only after: bash cross/qemu-sshd.sh start"
                return self.fail(step if kind == step else f"{step} ({kind})",
                                 f"{problem} for {where} ({_line_with(text, hit)})", hint=hint)
        if not any(line.startswith("error:") for line in result.stderr_tail) and any(
            line.startswith(("ssh:", "ssh_", "kex_", "banner", "Connection")) for line in result.stderr_tail
        ):
            return self.fail(step, f"ssh to {where} failed ({result.stderr_tail[-1]})")
        return None  # the device command itself exited 255

    def describe(self) -> str:
        c = self.target.connection
        return f"ssh {c.user + '@' if c.user else ''}{c.host}:{c.port}"


def _line_with(text: str, fragment: str) -> str:
    return next((line.strip() for line in text.splitlines() if fragment in line), fragment)
