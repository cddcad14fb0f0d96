"""A real labgrid lab on loopback: labgrid-coordinator + labgrid-exporter on free ports, places
created with labgrid-client, each matching one exported NetworkService (a loopback sshd)."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml
from _deploy_helpers import free_port, start_sshds, wait_port

BIN = Path(sys.executable).parent


def _tool(name: str) -> str | None:
    return shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def labgrid_missing() -> str | None:
    try:
        import labgrid  # noqa: F401
    except ImportError:
        return "labgrid not installed (pip install 'edgefer[labgrid]'; scripts/setup --test does it)"
    for tool in ("labgrid-coordinator", "labgrid-exporter", "labgrid-client"):
        if _tool(tool) is None:
            return f"{tool} not found"
    return None


@dataclass
class Lab:
    dir: Path
    address: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    def client(self, *args: str, user: str = "someone-else", check: bool = True) -> subprocess.CompletedProcess:
        """labgrid-client as another lab user (LG_USERNAME), e.g. to hold a place."""
        env = {**os.environ, "LG_COORDINATOR": self.address, "LG_USERNAME": user}
        return subprocess.run([_tool("labgrid-client"), *args], env=env, capture_output=True, text=True,
                              check=check, timeout=60)

    @contextlib.contextmanager
    def holding(self, place: str, user: str = "someone-else") -> Iterator[None]:
        """`place` acquired by another lab user while the block runs."""
        self.client("-p", place, "acquire", user=user)
        try:
            yield
        finally:
            self.client("-p", place, "release", user=user)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()


def start_lab(tmp: Path, services: dict[str, dict], tags: dict[str, dict] | None = None) -> Lab:
    """services: place name -> NetworkService args {address, username, port}; one exporter group each."""
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lab = Lab(tmp, f"127.0.0.1:{port}")
    clog = tmp / "coordinator.log"
    # the coordinator keeps places.yaml in its working directory: a fresh one per lab
    lab.procs.append(subprocess.Popen([_tool("labgrid-coordinator"), "-l", lab.address], cwd=tmp,
                                      stdout=open(clog, "wb"), stderr=subprocess.STDOUT))
    wait_port(port, lab.procs[0], clog, "labgrid-coordinator", 20)
    config = {f"group-{name}": {"NetworkService": dict(svc)} for name, svc in services.items()}
    (tmp / "exporter.yaml").write_text(yaml.safe_dump(config))
    elog = tmp / "exporter.log"
    lab.procs.append(subprocess.Popen([_tool("labgrid-exporter"), "-c", lab.address, "-n", "exp", "--hostname",
                                       "127.0.0.1", str(tmp / "exporter.yaml")], cwd=tmp,
                                      stdout=open(elog, "wb"), stderr=subprocess.STDOUT))
    try:
        deadline = time.monotonic() + 30
        while len(lab.client("resources").stdout.split()) < len(services):
            if time.monotonic() > deadline or lab.procs[1].poll() is not None:
                raise RuntimeError(f"exporter resources did not appear: {elog.read_text()[-2000:]}")
            time.sleep(0.2)
        for name in services:
            lab.client("-p", name, "create")
            lab.client("-p", name, "add-match", f"exp/group-{name}/NetworkService")
            place_tags = (tags or {}).get(name)
            if place_tags:
                lab.client("-p", name, "set-tags", *(f"{k}={v}" for k, v in place_tags.items()))
    except BaseException:
        lab.stop()
        raise
    return lab


@contextlib.contextmanager
def loopback_lab(tmp: Path, places: list[str], tags: dict | None = None) -> Iterator[tuple[Lab, Path, Path]]:
    """One loopback sshd per place (all taking one client key), one known_hosts pinning them all,
    and a lab whose places point at them: yields (lab, key, known_hosts), stops them all after."""
    sshds, key, kh = start_sshds([tmp / f"sshd-{p}" for p in places], tmp / "known_hosts")
    user = getpass.getuser()
    try:
        lab = start_lab(tmp / "lab", {p: {"address": "127.0.0.1", "username": user, "port": s.port}
                                      for p, s in zip(places, sshds)}, tags={p: tags for p in places} if tags else None)
        try:
            yield lab, key, kh
        finally:
            lab.stop()
    finally:
        for s in sshds:
            s.stop()
