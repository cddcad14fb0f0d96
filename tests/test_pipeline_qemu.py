"""The FER pipeline end to end on the emulated aarch64 board (qemu-aarch64 user mode, over a
real sshd): deploy ships the runner (incl. edgefer/runner/pipeline), the classifier + manifest
and the BlazeFace model; the photo is decoded on the host into an .npz frame stack (the board
has neither OpenCV nor Pillow) and the report comes back labelled emulated. Emulated timings
are checked for shape, never for speed."""

from __future__ import annotations

import pytest
from _deploy_helpers import emulated_board, qemu_missing, ssh_missing
from _pipeline_fixtures import MISSING, classifier_dir, skimage_photo

_why = ssh_missing() or qemu_missing() or MISSING
pytestmark = [pytest.mark.qemu, pytest.mark.ssh, pytest.mark.slow, pytest.mark.skipif(_why is not None, reason=str(_why))]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    with emulated_board(tmp_path_factory) as target:
        yield target


def test_pipeline_on_the_emulated_board(board, tmp_path):
    from edgefer.pipeline import run_pipeline
    from edgefer.runner.pipeline.settings import PipelineSettings

    cls = classifier_dir(tmp_path / "tiny")
    out = tmp_path / "r.json"
    events = []
    r = run_pipeline(str(cls), "blazeface", skimage_photo("astronaut"), PipelineSettings(frames=3, warmup=1),
                     target=board, out=str(out), on_progress=lambda i, k, n, t: events.append(i))
    env = r["environment"]
    assert env["emulated"] is True and env["emulator"] == "qemu-aarch64 (cortex-a72)" and env["machine"] == "aarch64"
    assert r["target"]["name"] == "qemu-aarch64" and r["target"]["transport"] == "ssh" and out.is_file()
    # the profile's bench.repeat (2): two runner processes on the board, 3 frames each
    assert r["partial"] is False and [x["frames"] for x in r["repeats"]] == [3, 3] and min(r["frames"]["faces"]) >= 1
    assert r["statistics"]["frames"] == 6 and len({x["pid"] for x in r["repeats"]}) == 2
    assert set(events) == {0, 1}  # the board's progress events, relayed per repeat
    assert r["source"]["kind"] == "npy" and "decoded on the host" in r["source"]["note"]
    assert r["settings"]["resize"] == "numpy" and r["settings"]["opencv"] is None  # no cv2 on the board
    assert r["classifier"]["preprocessing"]["from"] == "manifest" and r["detector"]["anchors"] == 896
    assert r["energy"]["status"] == "unavailable"  # the profile declares no meter on an emulator


def test_haar_on_a_board_without_opencv_says_how_to_install_it(board, tmp_path):
    from edgefer.errors import EdgeferError
    from edgefer.pipeline import run_pipeline
    from edgefer.runner.pipeline.settings import PipelineSettings

    cls = classifier_dir(tmp_path / "tiny")
    with pytest.raises(EdgeferError) as exc:
        run_pipeline(str(cls), "haar", skimage_photo("astronaut"), PipelineSettings(frames=1), target=board,
                     out=str(tmp_path / "r.json"))
    msg = exc.value.one_line()
    assert "needs cv2" in msg and "pip install opencv-python-headless" in msg and not (tmp_path / "r.json").exists()
