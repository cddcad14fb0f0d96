"""Run the pipeline on a board: ship what it needs, run the device-side runner, fetch the report.

What goes to the device (beside what `deploy` already syncs, the runner code incl.
edgefer/runner/pipeline/ and the classifier + its manifest):
- the detector model file (BlazeFace .tflite/.onnx or a cascade .xml), by content hash;
- image sources, decoded HERE into an .npz frame stack: boards (and the emulated board) often
  have no OpenCV or Pillow, and an image decoder is not what a camera pipeline runs there. The
  report's source says so (`note`), and its acquisition stage is then a copy of raw pixels;
- .npy/.npz frames and video files as they are (a video is decoded on the device by OpenCV).
numpy and the runtimes are the hard requirements (checked by deploy); OpenCV only when the
detector (Haar), a video or a camera needs it: probed, with the install command in the error.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from edgefer.bench.hosts import DeviceHost, WaitFn
from edgefer.deploy.deployment import Deployment, deploy, install_command, sync_files
from edgefer.pipeline.local import pipeline_module_args
from edgefer.pipeline.repeats import ProgressFn, run_repeats
from edgefer.pipeline.resolve import ClassifierChoice
from edgefer.runner.files import sha256_file
from edgefer.runner.pipeline.settings import PipelineSettings

_RUNTIME_FOR = {".tflite": ("ai_edge_litert", "tflite_runtime"), ".onnx": ("onnxruntime",)}


def _decode_on_host(spec: str, dest: Path) -> str:
    """Image file or folder -> dest (.npz, one uint8 RGB array per frame); -> the note for the report."""
    from edgefer.runner.pipeline import imaging
    from edgefer.runner.pipeline.sources import ImageFiles, open_source

    src = open_source(spec)
    assert isinstance(src, ImageFiles)
    frames = {f"f{k:05d}": src.get(k) for k in range(src.n_frames)}
    np.savez(dest, **frames)  # uncompressed: the device reads raw pixels, no decoder
    return (f"{src.n_frames} image(s) decoded on the host by {imaging.image_decoder()} into an .npz frame stack; "
            "on the device, acquisition is a copy of raw pixels")


def _needs(detector: str, source: str) -> list[tuple[str, tuple[str, ...]]]:
    """(why, module options) the device must have beyond numpy and the classifier's runtime."""
    from edgefer.runner.pipeline.sources import VIDEO_EXTENSIONS

    needs = []
    ext = os.path.splitext(detector)[1].lower()
    if detector == "haar" or ext == ".xml":
        needs.append(("the Haar detector", ("cv2",)))
    elif ext in _RUNTIME_FOR:
        needs.append((f"the {ext} detector", _RUNTIME_FOR[ext]))
    if source.startswith("camera:") or os.path.splitext(source)[1].lower() in VIDEO_EXTENSIONS:
        needs.append((f"source {source}", ("cv2",)))
    return needs


def _probe(dep: Deployment) -> dict[str, Any]:
    res = dep.transport.run([*dep.target.python, "-m", "edgefer.runner.pipeline", "probe"], step="probe pipeline",
                            cwd=dep.workdir, env={"PYTHONPATH": dep.workdir}, check=False)
    if res.rc != 0:
        raise dep.transport.fail("probe pipeline", f"exit status {res.rc}: {res.last_error()}")
    try:
        return json.loads(res.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise dep.transport.fail("probe pipeline", f"unreadable probe output: {res.stdout[:200]!r}") from None


def _check_modules(dep: Deployment, probe: dict[str, Any], needs: list[tuple[str, tuple[str, ...]]]) -> None:
    have = {**(probe.get("runtimes") or {}), "cv2": probe.get("cv2")}
    for why, options in needs:
        if not any(have.get(m) for m in options):
            pip = "opencv-python-headless" if options[0] == "cv2" else options[0]
            cmd = " ".join(install_command(dep.target, [pip]))
            raise dep.transport.fail("probe pipeline", f"{why} needs {options[0]}, which is missing on the device",
                                     hint=f"install on the device with: {cmd}")


def run_pipeline_remote(choice: ClassifierChoice, detector: str, source: str, target: Any, settings: PipelineSettings,
                        repeats: int, lock: tuple[float, WaitFn | None], on_progress: ProgressFn | None = None,
                        ) -> tuple[list[dict[str, Any]], str | None, dict]:
    """Deploy once, hold the board (`bench`'s lock, by a holder process on the device), then run
    `python -m edgefer.runner.pipeline run` there once per repeat (a fresh runner process each)
    -> (their reports, why the repeats stopped early or None, the lock's record). A run that
    fails after writing a partial report returns it (partial, with the reason) and ends the
    repeats."""
    dep = deploy(choice.path, target)
    _check_modules(dep, _probe(dep), _needs(detector, source))
    dev_detector, dev_source, note, shipped = _ship_inputs(dep, detector, source)
    args = pipeline_module_args(dep.artifact, dev_detector, dev_source, settings, choice.precision, target)
    if note:
        args += ["--source-note", note]
    host = DeviceHost(target)
    host.deployments[choice.path], host.what = dep, "pipeline"
    try:
        reports, stopped, exclusive = run_repeats(host, args, repeats, lock, on_progress)
        for report in reports:
            if note:
                report["source"]["spec"] = source  # the user's spec, with the note saying how it travelled
        return reports, stopped, exclusive
    finally:
        if shipped:
            dep.transport.run(["rm", "-f", "--", *shipped], step="clean up", cwd=dep.workdir, check=False)


def _ship_inputs(dep: Deployment, detector: str, source: str) -> tuple[str, str, str | None, list[str]]:
    """The detector file and the source, copied to the device -> (their paths there, the source's note
    for the report or None, the files to remove after the run). Images are decoded here first."""
    from edgefer.runner.pipeline.sources import IMAGE_EXTENSIONS

    tag = uuid.uuid4().hex[:12]
    shipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        files: list[tuple[Path, str]] = []
        dev_detector = detector
        if os.path.isfile(detector):
            rel = f"pipeline/{sha256_file(detector)[:16]}/{os.path.basename(detector)}"
            files.append((Path(detector), rel))
            dev_detector = rel
        note, dev_source = None, source
        is_images = os.path.isdir(source) or os.path.splitext(source)[1].lower() in IMAGE_EXTENSIONS
        if is_images:
            npz = Path(tmp) / "frames.npz"
            note = _decode_on_host(source, npz)
            dev_source = f"io/{tag}-frames.npz"
            files.append((npz, dev_source))
            shipped.append(dev_source)
        elif os.path.isfile(source):
            dev_source = f"io/{tag}-{os.path.basename(source)}"
            files.append((Path(source), dev_source))
            shipped.append(dev_source)
        if files:
            sync_files(dep.transport, dep.workdir, files)
    return dev_detector, dev_source, note, shipped
