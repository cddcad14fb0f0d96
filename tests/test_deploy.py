"""Deploy through the local and (fake) ADB transports: quoting, sha256 sync, python/runtime
checks, remote bench/infer, and the one-line errors a user sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _deploy_helpers import fake_python, install_fake_adb, tiny_onnx

from edgefer.cli.main import run
from edgefer.deploy import bench_remote, deploy, infer_remote, open_transport
from edgefer.deploy.payload import runner_files
from edgefer.deploy.shell import command_line
from edgefer.errors import EdgeferError
from edgefer.targets import Target, load_target

NASTY = "ef dir 'q\" $(touch INJECTED) ; touch INJECTED2 `touch INJECTED3`"


def local_target(tmp_path: Path, **fields) -> Target:
    # python: this interpreter (it has numpy/onnxruntime), not whatever `python3` PATH finds first
    data = {**load_target("local").model_dump(), "workdir": str(tmp_path / NASTY), "python": [sys.executable],
            **fields}
    return Target.model_validate(data)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("art") / "it's a model dir"
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps({"kind": "edgefer.convert.manifest", "model": "tiny"}))
    return tiny_onnx(d / "tiny model 'fp32'.onnx")


def test_command_line_quotes_every_argument(tmp_path):
    line = command_line(["printf", "%s\\n", NASTY, "~/x y", "a;b"], cwd=str(tmp_path), env={"V": "$(touch INJECTED)"})
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, env={"HOME": "/home/h", "PATH": "/usr/bin:/bin"})
    assert out.stdout.splitlines() == [NASTY, "/home/h/x y", "a;b"]
    assert not list(tmp_path.glob("INJECTED*"))


def test_ssh_options_pin_host_keys_and_quote_paths(tmp_path):
    from edgefer.deploy.ssh import SSHTransport

    conn = {"type": "ssh", "host": "pi5", "port": 2200, "user": "pi", "key": "/k/id", "jump": "me@bastion:22",
            "known_hosts": "/my keys/known_hosts"}
    t = Target.model_validate({**load_target("rpi5").model_dump(), "connection": conn})
    argv = SSHTransport(t)._host_argv("true")
    assert argv[0] == "ssh" and argv[-3:] == ["--", "pi5", "true"]
    for opt in ("BatchMode=yes", "StrictHostKeyChecking=yes", "ConnectTimeout=10", 'UserKnownHostsFile="/my keys/known_hosts"'):
        assert opt in argv
    assert argv[argv.index("-J") + 1] == "me@bastion:22" and argv[argv.index("-p") + 1] == "2200"
    assert argv[argv.index("-l") + 1] == "pi" and argv[argv.index("-i") + 1] == "/k/id"


def test_runner_payload_is_exactly_the_device_side_files():
    rels = [rel for _, rel in runner_files()]
    assert "edgefer/__init__.py" in rels and "edgefer/errors.py" in rels and "edgefer/runner/__main__.py" in rels
    assert all(r in ("edgefer/__init__.py", "edgefer/errors.py") or r.startswith(("edgefer/runner/", "edgefer/runner/energy/"))
               for r in rels)


def test_deploy_copies_verifies_and_skips_unchanged(tmp_path, model):
    t = local_target(tmp_path)
    first = deploy(model, t)
    work = Path(t.workdir)
    assert (work / first.artifact).read_bytes() == model.read_bytes()
    assert (work / first.artifact).with_name("manifest.json").is_file()
    assert (work / "edgefer/runner/__main__.py").is_file()
    assert first.probe["runtimes"]["onnxruntime"] and not first.unchanged
    assert not list(tmp_path.rglob("INJECTED*")) and not list(Path.cwd().glob("INJECTED*"))
    second = deploy(model, t)
    assert second.copied == [] and len(second.unchanged) == len(first.copied)
    (work / "edgefer/errors.py").write_text("# tampered\n")
    third = deploy(model, t)
    assert third.copied == ["edgefer/errors.py"]


def test_verify_catches_a_bad_copy(tmp_path, model, monkeypatch):
    t = local_target(tmp_path)
    tr = open_transport(t)
    real_put = type(tr).put_files

    def corrupting_put(self, files, remote_dir, **kw):
        real_put(self, files, remote_dir, **kw)
        (Path(remote_dir) / files[0][1]).write_text("corrupted")

    monkeypatch.setattr(type(tr), "put_files", corrupting_put)
    with pytest.raises(EdgeferError, match=r"target local: verify: sha256 mismatch after copy for edgefer/__init__.py"):
        deploy(model, t)


def test_missing_python_is_named(tmp_path, model):
    t = local_target(tmp_path, python=["no-such-python3"])
    with pytest.raises(EdgeferError) as exc:
        deploy(model, t)
    assert exc.value.one_line().startswith("target local: probe python: missing python: 'no-such-python3' not found")


def test_missing_runtime_prints_the_install_command(tmp_path, model):
    # -S: no site-packages, so the device python has neither numpy nor onnxruntime
    t = local_target(tmp_path, python=[sys.executable, "-S"])
    with pytest.raises(EdgeferError) as exc:
        deploy(model, t)
    msg = exc.value.one_line()
    assert "target local: probe runtime: numpy, onnxruntime missing on the device" in msg
    assert f"{sys.executable} -S -m pip install numpy onnxruntime" in msg and "--install-deps" in msg


def test_install_deps_runs_pip_on_the_device(tmp_path, model):
    state = tmp_path / "installed"
    py = fake_python(tmp_path / "python3", f"""
        if sys.argv[1:3] == ["-m", "pip"]:
            open({str(state)!r}, "w").write(" ".join(sys.argv[3:]))
            sys.exit(0)
        args = [sys.executable] + ([] if os.path.exists({str(state)!r}) else ["-S"]) + sys.argv[1:]
        os.execv(sys.executable, args)
    """)
    dep = deploy(model, local_target(tmp_path, python=[str(py)]), install_deps=True)
    assert state.read_text() == "install numpy onnxruntime"
    assert dep.probe["runtimes"]["onnxruntime"]


def test_bench_remote_streams_progress_and_returns_the_report(tmp_path, model):
    events = []
    report = bench_remote(model, local_target(tmp_path), ["--runs", "4", "--warmup", "1", "--energy", "none"], events.append)
    assert report["statistics"]["n"] == 4 and len(report["timing"]["samples_ns"]) == 4
    assert report["target"] == {"name": "local", "board": "this machine", "arch": load_target("local").arch, "transport": "local"}
    assert report["partial"] is False
    assert {e["phase"] for e in events} == {"warmup", "timed"} and events[-1]["done"] == 4
    workdir = Path(local_target(tmp_path).workdir)
    assert not list((workdir / "reports").iterdir())  # the report and the pid file were fetched, then removed


def test_infer_remote_matches_onnxruntime_on_the_host(tmp_path, model):
    import onnxruntime as ort

    x = np.random.default_rng(1).standard_normal((3, 1, 48, 48)).astype(np.float32)
    y = infer_remote(model, local_target(tmp_path), x)
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    assert not list((Path(local_target(tmp_path).workdir) / "io").iterdir())  # cleaned up


def test_device_error_is_one_line_with_exit_status(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(EdgeferError) as exc:
        bench_remote(broken, local_target(tmp_path), ["--runs", "1", "--energy", "none"])
    msg = exc.value.one_line()
    assert msg.startswith("target local: bench: exit status 2 on the device:") and "\n" not in msg


def test_partial_report_is_fetched_after_a_crash(tmp_path, model):
    # the device python writes a partial report, then dies as if killed (exit 137)
    py = fake_python(tmp_path / "python3", """
        if "bench" not in sys.argv:
            os.execv(sys.executable, [sys.executable] + sys.argv[1:])
        out = sys.argv[sys.argv.index("--out") + 1]
        os.makedirs(os.path.dirname(out), exist_ok=True)
        json.dump({"partial": True, "partial_reason": "SIGTERM", "timing": {"samples_ns": [1, 2]}}, open(out, "w"))
        sys.exit(137)
    """)
    report = bench_remote(model, local_target(tmp_path, python=[str(py)]), ["--runs", "10"])
    assert report["partial"] is True and report["timing"]["samples_ns"] == [1, 2]
    assert report["partial_reason"].startswith("SIGTERM; then target local: bench: exit status 137")


def test_a_crash_after_a_whole_report_marks_it_and_its_repeats_partial(tmp_path, model):
    """The runner-process protocol: a run that failed after writing a report that says it is whole
    keeps it, partial with the failure as the reason, in every repeat too (so a merge stays partial)."""
    py = fake_python(tmp_path / "python3", """
        if "bench" not in sys.argv:
            os.execv(sys.executable, [sys.executable] + sys.argv[1:])
        out = sys.argv[sys.argv.index("--out") + 1]
        os.makedirs(os.path.dirname(out), exist_ok=True)
        json.dump({"partial": False, "repeats": [{"index": 0, "partial": False}],
                   "timing": {"samples_ns": [1, 2]}}, open(out, "w"))
        print("error: out of memory", file=sys.stderr)
        sys.exit(9)
    """)
    report = bench_remote(model, local_target(tmp_path, python=[str(py)]), ["--runs", "10"])
    reason = "target local: bench: exit status 9 on the device: out of memory"
    assert report["partial"] is True and report["partial_reason"] == reason
    assert report["repeats"] == [{"index": 0, "partial": True, "partial_reason": reason}]


def test_a_local_runner_child_that_fails_says_so_in_one_line(tmp_path):
    from edgefer.deploy.runner_process import run_here

    with pytest.raises(EdgeferError) as exc:
        run_here(["edgefer.runner", "bench", str(tmp_path / "missing.onnx")], "bench", None)
    msg = exc.value.one_line()
    assert "missing.onnx" in msg and "\n" not in msg


def test_fake_adb_deploy_bench_and_wrong_serial(tmp_path, model, monkeypatch):
    log = tmp_path / "adb.log"
    bin_dir = tmp_path / "bin"
    install_fake_adb(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    monkeypatch.setenv("FAKE_ADB_SERIAL", "R5CT123")
    base = {**load_target("snapdragon-8gen2").model_dump(), "python": [sys.executable],
            "workdir": str(tmp_path / "data local tmp" / "edgefer")}
    t = Target.model_validate({**base, "connection": {"type": "adb", "serial": "R5CT123"}})
    report = bench_remote(model, t, ["--runs", "2", "--warmup", "0", "--energy", "none"])
    assert report["statistics"]["n"] == 2 and report["target"]["transport"] == "adb"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(c[:2] == ["-s", "R5CT123"] for c in calls)
    assert {c[2] for c in calls} == {"shell", "push", "pull"}
    assert any(c[2] == "pull" and c[3].endswith(".json") for c in calls)  # the report came back with adb pull
    wrong = Target.model_validate({**base, "connection": {"type": "adb", "serial": "OTHER"}})
    with pytest.raises(EdgeferError) as exc:
        deploy(model, wrong)
    assert exc.value.one_line().startswith("target snapdragon-8gen2: connect: device not reachable: adb device OTHER")


def test_adb_not_installed(tmp_path, model, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    t = Target.model_validate({**load_target("snapdragon-8gen2").model_dump(), "workdir": "/data/local/tmp/e"})
    with pytest.raises(EdgeferError, match="target snapdragon-8gen2: connect: 'adb' is not installed on this machine"):
        deploy(model, t)


def test_cli_deploy(tmp_path, model, capsys):
    profile = tmp_path / "dev.yaml"
    profile.write_text(json.dumps({**load_target("local").model_dump(mode="json"), "name": "dev",
                                   "workdir": str(tmp_path / "w w"), "python": [sys.executable]}))
    assert run(["deploy", str(model), "--target", str(profile)]) == 0
    out = capsys.readouterr().out
    assert "target dev (local):" in out and "files copied" in out and "onnxruntime" in out
    profile.write_text(profile.read_text().replace(json.dumps([sys.executable]), '["nopython9"]'))
    assert run(["deploy", str(model), "--target", str(profile)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if not line.startswith("[deploy]")]
    assert len(errors) == 1 and errors[0].startswith("error: target dev: probe python: missing python")
    assert "Traceback" not in err
