"""Test fixtures for deploy: a real OpenSSH server on 127.0.0.1 and a fake `adb`.

The sshd runs as the current user with its own config, keys generated in a temp dir and
its host key pinned in a known_hosts file, so the tests exercise strict host-key checking
and key auth exactly as against a board.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edgefer.targets import Target, load_target

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
QEMU_DIR = Path(os.environ.get("EDGEFER_QEMU_DIR", Path.home() / ".cache/edgefer/qemu-aarch64"))


def ssh_missing() -> str | None:
    """Why the sshd tests cannot run here, or None."""
    if SSHD is None:
        return "sshd not installed (apt-get install openssh-server; .ci/setup-board.sh does it)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install openssh-client)"
    return None


def qemu_missing() -> str | None:
    """Why the emulated board cannot be used here, or None."""
    if shutil.which("qemu-aarch64-static") is None:
        return "qemu-aarch64-static not installed (bash .ci/setup-board.sh)"
    if not (QEMU_DIR / ".stamp").is_file():
        return f"emulated board not built at {QEMU_DIR} (bash cross/setup-qemu-aarch64.sh)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, log: Path, what: str, timeout_s: float) -> None:
    """Until `proc` listens on 127.0.0.1:port; it exiting first, or the timeout (it is then
    killed), is a RuntimeError with the tail of its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{what} did not listen on {port}")


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@dataclass
class Sshd:
    dir: Path
    port: int
    key: Path
    known_hosts: Path
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def target(self, base: str | Target = "local", **fields) -> Target:
        """`base` profile reached through this sshd (connection replaced, other fields kept)."""
        t = load_target(base)
        conn = {"type": "ssh", "host": "127.0.0.1", "port": self.port, "key": str(self.key),
                "known_hosts": str(self.known_hosts), "connect_timeout_s": 5}
        data = {**t.model_dump(), "connection": conn, **fields}
        if base == "local" and "python" not in fields:
            # the "board" is this machine: its python with numpy/onnxruntime is this interpreter. The
            # profile's `python3` would be whatever an sshd session finds first on its minimal PATH
            # (/usr/bin/python3, bare on a fresh machine).
            data["python"] = [sys.executable]
        return Target.model_validate(data)


def start_sshd(tmp: Path) -> Sshd:
    tmp.mkdir(parents=True, exist_ok=True)
    host_key, client_key = tmp / "ssh_host_ed25519_key", tmp / "id_ed25519"
    _keygen(host_key)
    _keygen(client_key)
    (tmp / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text()}")
    (tmp / "sshd_config").write_text(textwrap.dedent(f"""\
        Port {port}
        ListenAddress 127.0.0.1
        HostKey {host_key}
        PidFile {tmp / 'sshd.pid'}
        AuthorizedKeysFile {tmp / 'authorized_keys'}
        AllowUsers {getpass.getuser()}
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM no
        StrictModes no
        PermitRootLogin prohibit-password
        LogLevel ERROR
        """))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    log = open(tmp / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")], stdout=log, stderr=log)
    wait_port(port, proc, tmp / "sshd.log", "sshd", 10)
    return Sshd(tmp, port, client_key, tmp / "known_hosts", proc)


@contextlib.contextmanager
def emulated_board(tmp_path_factory) -> Iterator[Any]:
    """The emulated aarch64 board (Cortex-A72 view) behind a real loopback sshd: its target
    profile, for a module's tests. The board's python is named explicitly, so a board built
    elsewhere (EDGEFER_QEMU_DIR) is the one used."""
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server.target("qemu-aarch64", workdir=str(tmp_path_factory.mktemp("board") / "work dir"),
                            python=[str(QEMU_DIR / "python-cortex-a72")])
    finally:
        server.stop()


def start_sshds(dirs: list[Path], known_hosts: Path) -> tuple[list[Sshd], Path, Path]:
    """One loopback sshd per dir, all taking the first one's client key, and one known_hosts
    file pinning them all -> (sshds, client key, known_hosts)."""
    sshds = []
    try:
        for d in dirs:
            sshds.append(start_sshd(d))
    except BaseException:
        for s in sshds:
            s.stop()
        raise
    first = sshds[0]
    for s in sshds[1:]:
        (s.dir / "authorized_keys").write_text(first.key.with_suffix(".pub").read_text())
    known_hosts.write_text("".join(s.known_hosts.read_text() for s in sshds))
    return sshds, first.key, known_hosts


FAKE_ADB = r'''#!{python}
"""Fake adb: records each call to $FAKE_ADB_LOG and executes it on this machine."""
import json, os, shutil, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ADB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
serial = None
if args[:1] == ["-s"]:
    serial, args = args[1], args[2:]
if serial is not None and serial != os.environ.get("FAKE_ADB_SERIAL"):
    sys.stderr.write(f"adb: device '{{serial}}' not found\n")
    sys.exit(1)
cmd, rest = args[0], args[1:]
if cmd == "shell":
    sys.exit(subprocess.call(["sh", "-c", " ".join(rest)]))
if cmd == "push":
    os.makedirs(os.path.dirname(rest[1]), exist_ok=True)
    shutil.copyfile(rest[0], rest[1])
    print(f"{{rest[0]}}: 1 file pushed.")
    sys.exit(0)
if cmd == "pull":
    if not os.path.exists(rest[0]):
        sys.stderr.write(f"adb: error: failed to stat remote object '{{rest[0]}}': No such file or directory\n")
        sys.exit(1)
    shutil.copyfile(rest[0], rest[1])
    sys.exit(0)
sys.stderr.write(f"fake adb: unsupported {{cmd}}\n")
sys.exit(1)
'''


def install_fake_adb(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    adb = bin_dir / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(0o755)
    return adb


def tiny_onnx(path: Path, seed: int = 0) -> Path:
    """A 48x48 gray -> 7 logits linear model, built with onnx.helper (no torch needed)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array((rng.standard_normal((48 * 48, 7)) * 0.01).astype(np.float32), "W")
    shape = numpy_helper.from_array(np.array([-1, 48 * 48], dtype=np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "shape"], ["f"]), helper.make_node("MatMul", ["f", "W"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 48, 48])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 7])],
        [w, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def fake_python(path: Path, body: str) -> Path:
    """An executable standing in for the device's python; `body` is Python run with sys.argv."""
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path
