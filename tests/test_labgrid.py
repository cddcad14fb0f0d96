"""Board farms on labgrid, with real parts: a labgrid-coordinator and a labgrid-exporter on
loopback, two places whose NetworkService resources point at two loopback sshds, edgefer
reserving/acquiring/releasing them through labgrid's own client, and another lab user
(labgrid-client with another LG_USERNAME) holding places."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from _deploy_helpers import qemu_missing, ssh_missing, start_sshds, tiny_onnx
from _labgrid_helpers import labgrid_missing, start_lab

_why = labgrid_missing() or ssh_missing()
pytestmark = [pytest.mark.labgrid, pytest.mark.ssh, pytest.mark.skipif(_why is not None, reason=str(_why))]
REPO = Path(__file__).resolve().parents[1]
FAST = {"runs": 5, "warmup": 1, "min_seconds": 0, "threads": 1, "energy": "none"}


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    """Two loopback sshds taking one client key, and one known_hosts file pinning both."""
    base = tmp_path_factory.mktemp("boards")
    (a, b), key, kh = start_sshds([base / "sshd-a", base / "sshd-b"], base / "known_hosts")
    yield {"a": a, "b": b, "key": key, "known_hosts": kh}
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def lab(boards, tmp_path_factory):
    user = getpass.getuser()
    services = {"board-a": {"address": "127.0.0.1", "username": user, "port": boards["a"].port},
                "board-b": {"address": "127.0.0.1", "username": user, "port": boards["b"].port}}
    lab = start_lab(tmp_path_factory.mktemp("lab"), services,
                    tags={"board-a": {"board": "loopback"}, "board-b": {"board": "loopback"}})
    yield lab
    lab.stop()


@pytest.fixture
def free_lab(lab):
    """Every test starts and must end with no place held and no reservation left."""
    yield lab
    who = lab.client("who").stdout.strip().splitlines()
    reservations = lab.client("reservations").stdout.strip()
    for line in who[1:]:  # clean up for the next test before failing this one
        lab.client("-p", line.split()[2], "release", "--kick", check=False)
    assert who[1:] == [] and reservations == "", (who, reservations)


def ssh_profile(path: Path, boards: dict, base: str = "local", **fields) -> Path:
    """A board profile reached over SSH with the test key (where it is comes from the place)."""
    from edgefer.targets import load_target

    t = load_target(base).model_dump(mode="json")
    t.update({"name": fields.pop("name", "lab-board"), "python": [sys.executable],
              "connection": {"type": "ssh", "host": "placeholder", "key": str(boards["key"]),
                             "known_hosts": str(boards["known_hosts"]), "connect_timeout_s": 5},
              "workdir": str(path.parent / "work"), "bench": {"warmup": 1, "runs": 5, "min_seconds": 0, "threads": 1}})
    t.update(fields)
    path.write_text(yaml.safe_dump(t, sort_keys=False))
    return path


def lab_profile(path: Path, boards: dict, lab, **conn) -> Path:
    """A profile whose connection is a labgrid place (or tag match) itself."""
    ssh_profile(path, boards)
    t = yaml.safe_load(path.read_text())
    t["connection"] = {"type": "labgrid", "coordinator": lab.address, "key": str(boards["key"]),
                       "known_hosts": str(boards["known_hosts"]), "connect_timeout_s": 5, **conn}
    t["workdir"] = str(path.parent / "work" / "{place}")
    path.write_text(yaml.safe_dump(t, sort_keys=False))
    return path


def spec(tmp: Path, targets: list, models: list, **bench) -> Path:
    p = tmp / "study.yaml"
    p.write_text(yaml.safe_dump({"models": models, "formats": ["onnx"], "targets": targets,
                                 "bench": {"repeats": 2, **FAST, **bench}, "out": str(tmp / "out")}))
    return p


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "edgefer", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_onnx(tmp_path_factory.mktemp("m") / "tiny.onnx")


def test_targets_list_shows_places_tags_and_holders(free_lab, boards):
    with free_lab.holding("board-b"):
        res = cli("targets", "list", "--labgrid", free_lab.address, "--json")
        assert res.returncode == 0, res.stderr
        places = {p["name"]: p for p in json.loads(res.stdout)}
        assert set(places) == {"board-a", "board-b"}
        assert places["board-a"]["tags"] == {"board": "loopback"} and places["board-a"]["acquired"] is None
        assert places["board-b"]["acquired"].endswith("/someone-else")
        assert places["board-b"]["network_services"][0]["port"] == boards["b"].port
        table = cli("targets", "list", "--labgrid", free_lab.address)
        assert "board=loopback" in table.stdout and "someone-else" in table.stdout


def test_study_across_two_places(free_lab, boards, tiny, tmp_path):
    base = ssh_profile(tmp_path / "board.yaml", boards)
    targets = [{"profile": str(base), "coordinator": free_lab.address, "place": "board-a"},
               {"profile": str(base), "coordinator": free_lab.address, "place": "board-b"}]
    res = cli("study", str(spec(tmp_path, targets, [{"artifact": str(tiny), "label": "Tiny"}])), "--no-plot")
    assert res.returncode == 0, res.stderr
    result = json.loads((tmp_path / "out/results.json").read_text())
    assert [c["status"] for c in result["cells"]] == ["ok", "ok"]
    assert {t["id"]: t["labgrid"]["places_used"] for t in result["targets"]} == {"board-a": ["board-a"], "board-b": ["board-b"]}
    ports = set()
    for c in result["cells"]:
        for r in c["repeats"]:
            rep = json.loads((tmp_path / "out" / r["report"]).read_text())
            assert rep["target"]["transport"] == "ssh" and not rep["partial"]
        ports.add(c["place"])
    assert ports == {"board-a", "board-b"}
    # each place kept its own work dir on the (shared) loopback host
    assert (tmp_path / "work/board-a").is_dir() and (tmp_path / "work/board-b").is_dir()


def test_a_held_place_blocks_until_released(free_lab, boards, tiny, tmp_path):
    from edgefer.study import run_study

    free_lab.client("-p", "board-a", "acquire")
    threading.Timer(3.0, lambda: free_lab.client("-p", "board-a", "release")).start()
    base = ssh_profile(tmp_path / "board.yaml", boards)
    targets = [{"profile": str(base), "coordinator": free_lab.address, "place": "board-a", "acquire_timeout_s": 60}]
    started = time.monotonic()
    run = run_study(spec(tmp_path, targets, [{"artifact": str(tiny)}], repeats=1), plot=False)
    assert time.monotonic() - started >= 3.0  # waited for the other user
    assert not run.failed and run.cells[0].place == "board-a"


def test_a_place_held_past_the_timeout_is_one_line_exit_2_and_other_boards_finish(free_lab, boards, tiny, tmp_path):
    with free_lab.holding("board-b"):
        base = ssh_profile(tmp_path / "board.yaml", boards)
        targets = [{"profile": str(base), "coordinator": free_lab.address, "place": "board-a"},
                   {"profile": str(base), "coordinator": free_lab.address, "place": "board-b", "acquire_timeout_s": 2}]
        res = cli("study", str(spec(tmp_path, targets, [{"artifact": str(tiny)}])), "--no-plot")
        assert res.returncode == 2, res.stderr
        errors = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("error: study stopped: labgrid place board-b is held by ")
        assert "someone-else: not free within 2 s" in errors[0]
        result = json.loads((tmp_path / "out/results.json").read_text())
        by_target = {c["target"]: c for c in result["cells"]}
        assert by_target["board-a"]["status"] == "ok" and len(by_target["board-a"]["repeats"]) == 2
        assert by_target["board-b"]["status"] == "failed" and "not free within 2 s" in by_target["board-b"]["error"]


def test_a_tag_match_takes_a_free_place_and_edgefer_bench_holds_it(free_lab, boards, tiny, tmp_path):
    with free_lab.holding("board-a"):
        prof = lab_profile(tmp_path / "lab.yaml", boards, free_lab, tags={"board": "loopback"}, acquire_timeout_s=10)
        out = tmp_path / "r.json"
        res = cli("bench", str(tiny), "--target", str(prof), "--runs", "5", "--warmup", "1", "--min-seconds", "0",
                  "--energy", "none", "--out", str(out))
        assert res.returncode == 0, res.stderr
        rep = json.loads(out.read_text())
        assert rep["target"]["transport"] == "ssh" and len(rep["timing"]["samples_ns"]) >= 5
        assert (tmp_path / "work/board-b").is_dir() and not (tmp_path / "work/board-a").exists()


@pytest.mark.parametrize("target, message", [
    ({"coordinator": "127.0.0.1:1", "place": "board-a"}, "labgrid coordinator 127.0.0.1:1 unreachable"),
    ({"place": "board-z"}, "unknown labgrid place 'board-z'"),
    ({"tags": {"board": "rpi9"}}, "no labgrid place on "),
])
def test_unreachable_coordinator_unknown_place_or_tags_exit_2(free_lab, boards, tiny, tmp_path, target, message):
    base = ssh_profile(tmp_path / "board.yaml", boards)
    targets = [{"profile": str(base), "coordinator": free_lab.address, **target}]
    res = cli("study", str(spec(tmp_path, targets, [{"artifact": str(tiny)}])), "--no-plot")
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr


def test_ctrl_c_while_waiting_releases_every_place(free_lab, boards, tiny, tmp_path):
    with free_lab.holding("board-b"):
        base = ssh_profile(tmp_path / "board.yaml", boards)
        targets = [{"profile": str(base), "coordinator": free_lab.address, "place": "board-a"},
                   {"profile": str(base), "coordinator": free_lab.address, "place": "board-b", "acquire_timeout_s": 120}]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        study_yaml = spec(tmp_path, targets, [{"artifact": str(tiny)}])
        proc = subprocess.Popen([sys.executable, "-m", "edgefer", "study", str(study_yaml),
                                 "--no-plot"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # board-a measured; board-b's worker is waiting for the place
            cache = tmp_path / "out/cache.json"
            if cache.is_file() and len(json.loads(cache.read_text())["entries"]) == 2:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        result = json.loads((tmp_path / "out/results.json").read_text())  # finished cells written on the way out
        assert {c["target"]: c["status"] for c in result["cells"]}["board-a"] == "ok"
        who = free_lab.client("who").stdout
        assert "board-a" not in who  # ours was released; only the other user's place is held


@pytest.mark.qemu
@pytest.mark.slow
@pytest.mark.skipif(qemu_missing() is not None, reason=str(qemu_missing()))
def test_study_on_the_emulated_board_through_two_places(free_lab, boards, tiny, tmp_path):
    from edgefer.study import run_study

    base = ssh_profile(tmp_path / "qemu.yaml", boards, base="qemu-aarch64", name="qemu-lab")
    data = yaml.safe_load(base.read_text())
    data["python"] = yaml.safe_load(Path(REPO / "targets/qemu-aarch64.yaml").read_text())["python"]
    base.write_text(yaml.safe_dump(data, sort_keys=False))
    targets = [{"profile": str(base), "coordinator": free_lab.address, "place": "board-a"},
               {"profile": str(base), "coordinator": free_lab.address, "place": "board-b"}]
    run = run_study(spec(tmp_path, targets, [{"artifact": str(tiny), "label": "Tiny"}], runs=3), plot=False)
    assert not run.failed, [c.error for c in run.cells]
    for c in run.result["cells"]:
        assert c["figures"]["emulated"] is True and c["figures"]["machine"] == "aarch64"
    md = (tmp_path / "out/table.md").read_text()
    assert "| board-a (emulated) | Tiny |" in md and "| board-b (emulated) | Tiny |" in md
    assert r"$^{\mathrm{a}}$ emulated target" in (tmp_path / "out/table.tex").read_text()
