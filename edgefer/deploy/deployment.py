"""`deploy()`: put the runner and an artifact on a device, verified, and check its python."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgefer.deploy.payload import artifact_files, runner_files
from edgefer.deploy.transport import TRANSPORTS, Transport
from edgefer.errors import EdgeferError
from edgefer.runner.files import sha256_file
from edgefer.targets import Target, load_target

# pip names of what the runner needs on the device, by artifact format
_RUNTIME_MODULES = {".onnx": ("onnxruntime",), ".tflite": ("ai_edge_litert", "tflite_runtime")}
_PIP_NAMES = {"numpy": "numpy", "onnxruntime": "onnxruntime", "ai_edge_litert": "ai-edge-litert"}
MIN_PYTHON = (3, 10)
MIN_PYTHON_STR = ".".join(map(str, MIN_PYTHON))
# Dirs the runner writes into (reports, infer inputs/outputs), created with the first contact.
WORK_SUBDIRS = ("reports", "io")
# Probe results of this process, reused while no runner file changed on the device (the probe
# does not read the artifact): it costs a python start-up, seconds on the emulated board, and
# bench/infer deploy before every run.
_PROBED: dict[tuple, dict] = {}


@dataclass
class Deployment:
    target: Target
    transport: Transport
    workdir: str
    artifact: str  # device path of the artifact, relative to workdir
    probe: dict
    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def runner_argv(self, *args: str) -> list[str]:
        return [*self.target.python, "-m", "edgefer.runner", *args]

    def run_runner(self, *args: str, step: str, **kwargs):
        """Run `python -m edgefer.runner ARGS` in the work dir with the runner importable."""
        return self.transport.run(self.runner_argv(*args), step=step, cwd=self.workdir,
                                  env={"PYTHONPATH": self.workdir}, **kwargs)

    def spawn_runner(self, *args: str, step: str):
        """Start `python -m edgefer.runner ARGS` and return the process at once (pipes on stdio)."""
        return self.transport.spawn(self.runner_argv(*args), step=step, cwd=self.workdir,
                                    env={"PYTHONPATH": self.workdir})


def open_transport(target: Target) -> Transport:
    kind = target.connection.type
    if kind == "labgrid":  # a place must be held first: edgefer.lab.leased_target gives its SSH target
        raise EdgeferError(f"target {target.name} is a labgrid place: run it with `edgefer study` or `edgefer bench`, "
                           "which acquire and release the place")
    return TRANSPORTS.create(kind, target)


def _remote_hashes(transport: Transport, workdir: str, rels: list[str], step: str) -> dict[str, str]:
    """sha256 of the files that exist under workdir (missing ones are absent from the result)."""
    script = ('w="$1"; shift; mkdir -p -- "$w" && cd "$w" && mkdir -p -- ' + " ".join(WORK_SUBDIRS)
              + ' || exit 1; sha256sum -- "$@" 2>/dev/null; exit 0')
    res = transport.run(["sh", "-c", script, "sh", workdir, *rels], step=step)
    hashes = {}
    for line in res.stdout.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            hashes[name] = digest
    return hashes


def sync_files(transport: Transport, workdir: str, files: list[tuple[Path, str]],
               known: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Copy what differs (by sha256), then verify the copies; returns (copied, unchanged).
    `known` maps device paths to sha256 already computed, so those files are not hashed again."""
    known = known or {}
    local = {rel: known.get(rel) or sha256_file(path) for path, rel in files}
    remote = _remote_hashes(transport, workdir, list(local), step="connect")
    todo = [(path, rel) for path, rel in files if remote.get(rel) != local[rel]]
    todo_rels = {rel for _, rel in todo}
    if todo:
        transport.put_files(todo, transport.resolve(workdir))
        after = _remote_hashes(transport, workdir, [rel for _, rel in todo], step="verify")
        bad = [rel for _, rel in todo if after.get(rel) != local[rel]]
        if bad:
            raise transport.fail("verify", f"sha256 mismatch after copy for {', '.join(bad)}",
                                 hint="is sha256sum installed on the device and the disk not full?")
    return [rel for _, rel in todo], [rel for _, rel in files if rel not in todo_rels]


def install_command(target: Target, modules: list[str]) -> list[str]:
    return [*target.python, "-m", "pip", "install", *(_PIP_NAMES.get(m, m) for m in modules)]


def _probe(dep: Deployment) -> dict:
    python = dep.target.python[0]
    res = dep.run_runner("probe", step="probe python", check=False)
    if res.rc == 127:
        raise dep.transport.fail("probe python", f"missing python: '{python}' not found on the device",
                                 hint=f"install Python >= {MIN_PYTHON_STR} there, or set `python:` in the profile")
    if res.rc != 0:
        raise dep.transport.fail("probe python", f"'{python} -m edgefer.runner probe' exited {res.rc}: {res.last_error()}",
                                 hint=f"the runner needs Python >= {MIN_PYTHON_STR}")
    try:
        return json.loads(res.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise dep.transport.fail("probe python", f"unreadable probe output: {res.stdout[:200]!r}") from None


def missing_modules(probe: dict, artifact_suffix: str) -> list[str]:
    missing = [] if probe.get("numpy") else ["numpy"]
    runtimes = probe.get("runtimes") or {}
    options = _RUNTIME_MODULES.get(artifact_suffix, ())
    if options and not any(runtimes.get(m) for m in options):
        missing.append(options[0])
    return missing


def deploy(
    artifact: Path | str,
    target: Target | str,
    *,
    install_deps: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> Deployment:
    """Copy runner + artifact (+ manifest) to the target's work dir, skipping unchanged files,
    and check the device's python and runtime. Raises EdgeferError naming target and step."""
    t = load_target(target)
    artifact = Path(artifact)
    if not artifact.is_file():
        raise EdgeferError(f"artifact {artifact}: file not found")
    say = on_step or (lambda _msg: None)
    transport = open_transport(t)
    sha = sha256_file(artifact)
    runner = runner_files()
    art = artifact_files(artifact, sha)
    files = runner + art
    say(f"syncing {len(files)} files to {transport.describe()}:{t.workdir}")
    copied, unchanged = sync_files(transport, t.workdir, files, known={art[0][1]: sha})
    dep = Deployment(t, transport, t.workdir, art[0][1], {}, copied, unchanged)
    key = (transport.describe(), t.workdir, tuple(t.python))
    runner_rels = {rel for _, rel in runner}
    if key not in _PROBED or any(rel in runner_rels for rel in copied):
        say(f"checking {' '.join(t.python)} on the device")
        _PROBED[key] = _probe(dep)
    dep.probe = _PROBED[key]
    version = tuple(int(p) for p in str(dep.probe.get("python", "0.0")).split(".")[:2] if p.isdigit())
    if version < MIN_PYTHON:
        raise transport.fail("probe python", f"python {dep.probe.get('python')} is too old",
                             hint=f"the runner needs Python >= {MIN_PYTHON_STR}; set `python:` in the profile")
    missing = missing_modules(dep.probe, artifact.suffix.lower())
    if missing:
        cmd = " ".join(install_command(t, missing))
        if not install_deps:
            raise transport.fail("probe runtime", f"{', '.join(missing)} missing on the device",
                                 hint=f"install on the device with: {cmd}   (or rerun with --install-deps)")
        say(f"installing {', '.join(missing)}: {cmd}")
        transport.run(install_command(t, missing), step="install deps", cwd=t.workdir)
        dep.probe = _PROBED[key] = _probe(dep)
        still = missing_modules(dep.probe, artifact.suffix.lower())
        if still:
            raise transport.fail("install deps", f"{', '.join(still)} still missing after: {cmd}")
    return dep
