"""Deploy over a real OpenSSH server on 127.0.0.1: key auth, pinned host key, quoting, and
each failure a user can hit (unreachable, auth, host key, missing python, non-zero exit,
disconnect mid-run) as one line naming the target and the step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from _deploy_helpers import fake_python, ssh_missing, start_sshd, tiny_onnx

from edgefer.deploy import bench_remote, deploy, open_transport
from edgefer.errors import EdgeferError

pytestmark = [pytest.mark.ssh, pytest.mark.skipif(ssh_missing() is not None, reason=str(ssh_missing()))]

NASTY = "~/ef ssh 'q\" $(touch INJECTED); `touch INJECTED2`"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("art") / "tiny 'model'.onnx")


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = exc.value.one_line()
    assert "\n" not in msg
    return msg


def test_deploy_and_bench_over_ssh_with_a_nasty_workdir(sshd, model):
    t = sshd.target("local", workdir=NASTY)
    dep = deploy(model, t)
    import pwd

    # `~/` on the device is the ssh user's home from the password database, not this process's $HOME
    # (CI and the fresh-machine check run with a throw-away HOME)
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    work = home / NASTY[2:]
    try:
        assert (work / dep.artifact).read_bytes() == model.read_bytes()
        assert not list(home.glob("INJECTED*")) and not list(work.parent.glob("INJECTED*"))
        assert deploy(model, t).copied == []
        events = []
        report = bench_remote(model, t, ["--runs", "3", "--warmup", "1", "--energy", "none"], events.append)
        assert report["statistics"]["n"] == 3 and report["target"]["transport"] == "ssh"
        assert events and events[-1] == {"event": "progress", "done": 3, "total": 3, "phase": "timed"}
    finally:
        subprocess.run(["rm", "-rf", "--", str(work)], check=True)


def test_known_hosts_and_key_paths_with_spaces(sshd, tmp_path):
    d = tmp_path / "my keys"
    d.mkdir()
    for f in (sshd.known_hosts, sshd.key):
        (d / f.name).write_bytes(f.read_bytes())
    (d / sshd.key.name).chmod(0o600)
    t = sshd.target("local")
    t.connection.known_hosts, t.connection.key = str(d / sshd.known_hosts.name), str(d / sshd.key.name)
    assert open_transport(t).run(["echo", "ok"], step="connect").stdout == b"ok\n"


def test_unreachable_host(sshd, model):
    t = sshd.target("local")
    t.connection.port = sshd.port + 1 if sshd.port < 65535 else 1  # nothing listens there
    with pytest.raises(EdgeferError) as exc:
        deploy(model, t)
    msg = one_line(exc)
    assert msg.startswith("target local: connect: host unreachable for 127.0.0.1:") and "Connection refused" in msg


def test_auth_failure(sshd, model, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True)
    t = sshd.target("local")
    t.connection.key = str(tmp_path / "stranger")
    with pytest.raises(EdgeferError) as exc:
        deploy(model, t)
    assert one_line(exc).startswith("target local: connect (authentication): authentication failed for 127.0.0.1:")


def test_unknown_host_key_is_refused(sshd, model, tmp_path):
    (tmp_path / "empty_known_hosts").write_text("")
    t = sshd.target("local")
    t.connection.known_hosts = str(tmp_path / "empty_known_hosts")
    with pytest.raises(EdgeferError) as exc:
        deploy(model, t)
    assert one_line(exc).startswith("target local: connect (host key): host key not trusted")


def test_missing_python_over_ssh(sshd, model, tmp_path):
    t = sshd.target("local", python=["/opt/no such/python3"], workdir=str(tmp_path / "work"))
    with pytest.raises(EdgeferError) as exc:
        deploy(model, t)
    assert one_line(exc).startswith("target local: probe python: missing python: '/opt/no such/python3' not found")


def test_non_zero_exit_on_the_device(sshd):
    tr = open_transport(sshd.target("local"))
    with pytest.raises(EdgeferError) as exc:
        tr.run(["sh", "-c", "echo 'error: out of memory' >&2; exit 7"], step="bench")
    assert one_line(exc) == "target local: bench: exit status 7 on the device: out of memory"
    # exit 255 from the command itself is not mistaken for an ssh failure
    with pytest.raises(EdgeferError, match="bench: exit status 255 on the device: boom"):
        tr.run(["sh", "-c", "echo boom >&2; exit 255"], step="bench")


def test_disconnect_mid_run_still_fetches_the_partial_report(sshd, model, tmp_path):
    ppid_file = tmp_path / "session.pid"
    py = fake_python(tmp_path / "python3", f"""
        if "bench" not in sys.argv:
            os.execv(sys.executable, [sys.executable] + sys.argv[1:])
        out = sys.argv[sys.argv.index("--out") + 1]
        json.dump({{"partial": True, "partial_reason": None, "timing": {{"samples_ns": [5]}}}}, open(out, "w"))
        open({str(ppid_file)!r}, "w").write(str(os.getppid()))
        for _ in range(100):  # dies of SIGPIPE/EPIPE once the connection is gone
            sys.stderr.write(json.dumps({{"event": "progress", "done": 1, "total": 9, "phase": "timed"}}) + "\\n")
            sys.stderr.flush()
            time.sleep(0.1)
    """)

    def cut_the_link() -> None:  # kill the sshd session process serving this run (we started it)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (ppid_file.exists() and ppid_file.read_text()):
            time.sleep(0.05)
        os.kill(int(ppid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=cut_the_link)
    killer.start()
    report = bench_remote(model, sshd.target("local", python=[str(py)], workdir=str(tmp_path / "work")), ["--runs", "9"])
    killer.join()
    assert report["partial"] is True and report["timing"]["samples_ns"] == [5]
    assert "target local: bench: disconnected from 127.0.0.1" in report["partial_reason"]


def test_disconnect_without_report_raises(sshd, model, tmp_path):
    py = fake_python(tmp_path / "python3", """
        if "bench" not in sys.argv:
            os.execv(sys.executable, [sys.executable] + sys.argv[1:])
        os.kill(os.getppid(), 9)
        time.sleep(1)
    """)
    with pytest.raises(EdgeferError) as exc:
        bench_remote(model, sshd.target("local", python=[str(py)], workdir=str(tmp_path / "work")), ["--runs", "9"])
    assert one_line(exc).startswith("target local: bench: disconnected from 127.0.0.1")


def _profile_file(t, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(t.model_dump(mode="json")))
    return path


def test_repeats_over_ssh_are_separate_device_processes(sshd, model, tmp_path):
    from edgefer.bench.api import bench
    from edgefer.runner.settings import BenchSettings

    t = sshd.target("local", workdir=str(tmp_path / "work"))
    [r] = bench(str(model), BenchSettings(runs=5, warmup=1, min_seconds=0, energy="none"),
                target=str(_profile_file(t, tmp_path / "board.yaml")), repeat=3)
    assert r["target"]["transport"] == "ssh" and r["settings"]["repeat"] == 3 and r["statistics"]["n"] == 15
    assert len({x["pid"] for x in r["repeats"]}) == 3 and r["exclusive"]["held"]
    assert r["resources"]["peak_rss_mb"] < 400 and r["resources"]["model_rss_mb"] is not None


def test_a_board_held_by_someone_else_blocks_a_remote_bench(sshd, model, tmp_path):
    from edgefer.bench.api import bench
    from edgefer.runner.lock import BoardLock, whoami
    from edgefer.runner.settings import BenchSettings

    t = sshd.target("local", workdir=str(tmp_path / "work"))
    t.bench.lock_timeout_s = 1.0
    lock = BoardLock(whoami("a manual run"))  # the device is this machine: same lock file
    lock.acquire(600)
    try:
        with pytest.raises(EdgeferError) as exc:
            bench(str(model), BenchSettings(runs=2, energy="none"), target=str(_profile_file(t, tmp_path / "board.yaml")),
                  repeat=1)
        assert "the board is busy: held by a manual run" in one_line(exc)
    finally:
        lock.release()


def test_host_sigterm_during_a_remote_bench_keeps_the_device_samples(sshd, model, tmp_path):
    import signal
    import sys
    import time

    t = sshd.target("local", workdir=str(tmp_path / "work"))
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "bench", str(model), "--target",
                             str(_profile_file(t, tmp_path / "board.yaml")), "--runs", "100000000", "--warmup", "1",
                             "--repeat", "2", "--energy", "none", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # deployed, locked, and timing on the device by now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, err
    r = json.loads(out.read_text())
    assert r["partial"] and "stopped on the host" in r["partial_reason"] and len(r["repeats"]) == 1
    assert r["statistics"]["n"] > 100 and r["target"]["transport"] == "ssh"
    assert not list((tmp_path / "work" / "reports").glob("*.pid"))  # the device runner has exited


def test_host_sigterm_during_a_remote_pipeline_keeps_the_device_frames(sshd, tmp_path):
    """The pipeline on a board over SSH: progress events come back while it runs; SIGTERM on the
    host stops the device runner through its pid file, and its partial report is fetched."""
    import sys

    from _pipeline_fixtures import classifier_dir

    t = sshd.target("local", workdir=str(tmp_path / "work"))
    out = tmp_path / "r.json"
    proc = subprocess.Popen([sys.executable, "-m", "edgefer", "pipeline", "-c", str(classifier_dir(tmp_path / "tiny")),
                             "-s", "synthetic:160x120", "--fps", "30", "--duration", "60", "--threads", "1",
                             "--target", str(_profile_file(t, tmp_path / "board.yaml")), "--energy", "none",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(10)  # deployed, locked, and running on the device by now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 1, err
    r = json.loads(out.read_text())
    assert r["partial"] and "stopped on the host" in r["partial_reason"] and r["statistics"]["frames"] > 5
    assert r["target"]["transport"] == "ssh" and r["exclusive"]["held"]
    assert not list((tmp_path / "work" / "reports").glob("*.pid"))  # the device runner has exited
