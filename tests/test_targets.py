"""Target profiles: every shipped YAML validates, facts that drive decisions are right,
and mistakes in a profile become one-line errors naming the file and the field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from edgefer.cli.main import run
from edgefer.errors import EdgeferError
from edgefer.targets import Target, list_targets, load_target, targets_dir
from edgefer.targets.checks import check_target

SHIPPED = ["jetson-nano", "jetson-orin-nano", "local", "qemu-aarch64", "qemu-aarch64-a76", "rpi4", "rpi5",
           "snapdragon-8gen2"]


@pytest.fixture(autouse=True)
def no_user_profiles(tmp_path, monkeypatch):
    """The user's own profile folders never leak in: no $EDGEFER_TARGETS_PATH, an empty config home."""
    monkeypatch.delenv("EDGEFER_TARGETS_PATH", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))


def write(tmp_path: Path, data: dict | str, name: str = "board.yaml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def minimal(**over) -> dict:
    return {"name": "board", "arch": "aarch64", "cpu": {"model": "X", "cores": 4, "features": ["neon"]}, **over}


def test_all_shipped_profiles_load_with_matching_names():
    assert set(SHIPPED) <= set(list_targets())
    for name in list_targets():
        t = load_target(name)
        assert t.name == name and Path(t.path).name == f"{name}.yaml"


@pytest.mark.parametrize(
    "name, int8, dotprod",
    [("rpi4", "U8", False), ("rpi5", "S8", True), ("jetson-nano", "U8", False), ("jetson-orin-nano", "S8", True),
     ("snapdragon-8gen2", "S8", True), ("qemu-aarch64", "U8", False), ("qemu-aarch64-a76", "S8", True)],
)
def test_int8_activation_follows_dot_product(name, int8, dotprod):
    t = load_target(name)
    assert t.cpu.has("asimddp") is dotprod and t.cpu.has("dotprod") is dotprod
    assert t.int8_activation_type() == int8


def test_int8_activation_derived_when_not_set(tmp_path):
    with_dp = load_target(write(tmp_path, minimal(cpu={"model": "A76", "cores": 4, "features": ["dotprod"]})))
    without = load_target(write(tmp_path, minimal(), "b.yaml"))
    x86 = load_target(write(tmp_path, minimal(arch="x86_64", cpu={"model": "x", "cores": 2, "features": ["asimddp"]}), "c.yaml"))
    assert (with_dp.int8_activation_type(), without.int8_activation_type(), x86.int8_activation_type()) == ("S8", "U8", "U8")


def test_board_facts():
    snap = load_target("snapdragon-8gen2")
    assert snap.cpu.cores == 8
    assert [c.core for c in snap.cpu.clusters] == ["Cortex-X3", "Cortex-A715", "Cortex-A710", "Cortex-A510"]
    assert snap.connection.type == "adb" and snap.energy.type == "android"
    assert load_target("rpi5").energy.command == ["vcgencmd", "pmic_read_adc"]
    assert load_target("rpi4").energy.type == "none" and load_target("rpi4").energy.nominal_power_w
    assert load_target("jetson-orin-nano").energy.rail == "VDD_IN"
    nano_gpu = load_target("jetson-nano").accelerators[0]
    assert "int8" not in nano_gpu.precisions
    assert "int8" in load_target("jetson-orin-nano").accelerators[0].precisions
    for name in ("qemu-aarch64", "qemu-aarch64-a76"):
        q = load_target(name)
        assert q.emulated and q.emulator.startswith("qemu-aarch64") and q.connection.type == "ssh"


def test_local_profile_describes_this_machine(tmp_path):
    import os

    from edgefer.targets.host import host_arch, host_cpu

    t = load_target("local")
    assert t.arch == host_arch() and t.cpu.cores == os.cpu_count()
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU part\t: 0xd0b\n")
    assert host_cpu(cpuinfo)["features"] == ["fp", "asimd", "asimddp"]
    with pytest.raises(EdgeferError, match="'auto' only for connection type local"):
        load_target(write(tmp_path, {**minimal(arch="auto"), "connection": {"type": "ssh", "host": "b"}}))


def test_ssh_key_paths_resolved_relative_to_the_file(tmp_path):
    data = minimal(connection={"type": "ssh", "host": "b", "key": "keys/id", "known_hosts": "~/kh"})
    t = load_target(write(tmp_path, data))
    assert t.connection.key == str(tmp_path / "keys" / "id")
    assert t.connection.known_hosts == str(Path.home() / "kh")


@pytest.mark.parametrize(
    "data, field",
    [
        (minimal(connection={"type": "ssh", "host": "b", "port": 70000}), "connection.port"),
        (minimal(connection={"type": "ssh"}), "connection.host"),
        (minimal(connection={"type": "telnet"}), "connection"),
        (minimal(arch="riscv64"), "arch"),
        (minimal(energy={"type": "hwmon"}), "energy"),
        (minimal(bench={"runs": 0}), "bench.runs"),
        (minimal(cpu={"model": "X", "cores": 4, "clusters": [{"core": "A", "count": 2}]}), "cpu"),
        (minimal(runtimes={"tflite": {"threadz": 2}}), "runtimes.tflite.threadz"),
        (minimal(emulated=True), "(top level)"),
        (minimal(connection={"type": "ssh", "host": "-oProxyCommand=x"}), "connection.host"),
        (minimal(connection={"type": "adb"}, workdir="rel/dir"), "(top level)"),
    ],
)
def test_invalid_profile_names_file_and_field(tmp_path, data, field):
    path = write(tmp_path, data)
    with pytest.raises(EdgeferError) as exc:
        load_target(path)
    msg = exc.value.one_line()
    assert str(path) in msg and f"{field}:" in msg and "\n" not in msg


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "name: b\narch: [aarch64\ncpu: {}\n")
    with pytest.raises(EdgeferError, match=rf"{path}: line \d+: YAML syntax"):
        load_target(path)


def test_unknown_target_lists_known_ones():
    with pytest.raises(EdgeferError) as exc:
        load_target("no-such-board")
    assert "unknown target 'no-such-board'" in exc.value.one_line() and "rpi5" in exc.value.one_line()


def test_missing_file():
    with pytest.raises(EdgeferError, match="file not found"):
        load_target("/nonexistent/board.yaml")


def test_python_command_string_is_split_and_target_passes_through(tmp_path):
    t = load_target(write(tmp_path, minimal(python="/opt/py 3/bin/python3 -X utf8")))
    assert t.python == ["/opt/py", "3/bin/python3", "-X", "utf8"]
    assert load_target(t) is t and isinstance(t, Target)


def test_checks_warn_about_misleading_setups(tmp_path):
    rpi4 = check_target(load_target("rpi4"))
    assert any("dot-product" in w and "int8" in w for w in rpi4)
    assert not any("dot-product" in w for w in check_target(load_target("rpi5")))
    assert any("function and parity, never for speed" in w for w in check_target(load_target("qemu-aarch64")))
    no_kh = load_target(write(tmp_path, minimal(connection={"type": "ssh", "host": "b", "strict_host_key_checking": False},
                                                bench={"threads": 8, "runs": 5, "min_seconds": 0}), "other.yaml"))
    warnings = check_target(no_kh)
    for needle in ("no known_hosts", "strict_host_key_checking is off", "8 threads", "too few samples", "differs from the file"):
        assert any(needle in w for w in warnings), needle
    orin = load_target("jetson-orin-nano")  # its GPU is used through TensorRT/CUDA; with CPU only it is not
    cpu_only = Target.model_validate({**orin.model_dump(), "runtimes": {"onnxruntime": {"providers": ["CPUExecutionProvider"]}}})
    assert not any("not used" in w for w in check_target(orin))
    assert any("not used" in w for w in check_target(cpu_only))


def test_cli_list_show_check(capsys, tmp_path):
    assert run(["targets", "list", "--json"]) == 0
    assert "snapdragon-8gen2" in capsys.readouterr().out
    assert run(["targets", "show", "rpi5"]) == 0
    out = capsys.readouterr().out
    assert "int8_activation_type: S8" in out and "Cortex-A76" in out
    assert run(["targets", "check", "targets/rpi4.yaml"]) == 0
    out = capsys.readouterr().out
    assert "valid profile 'rpi4'" in out and "warning: CPU has no dot-product" in out
    assert run(["targets", "check", "--strict", "targets/rpi4.yaml"]) == 1


def test_cli_errors_are_one_line_exit_2(capsys, tmp_path):
    bad = write(tmp_path, minimal(connection={"type": "ssh", "host": "b", "port": "x"}))
    assert run(["targets", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "connection.port" in err and str(bad) in err and "Traceback" not in err
    assert run(["targets", "show", "nope"]) == 2
    assert "unknown target 'nope'" in capsys.readouterr().err


def test_builtin_profiles_are_package_data_read_from_the_targets_folder():
    repo_targets = Path(__file__).resolve().parents[1] / "targets"
    assert targets_dir().resolve() == repo_targets  # editable install: edgefer.profiles is targets/
    assert Path(load_target("rpi4").path).resolve() == repo_targets / "rpi4.yaml"


def test_user_profiles_from_the_path_variable_win_over_built_in_ones(tmp_path, monkeypatch, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    write(first, minimal(name="rpi4", cpu={"model": "Mine", "cores": 2}), "rpi4.yaml")
    write(second, minimal(name="rpi4", cpu={"model": "Second", "cores": 2}), "rpi4.yaml")
    write(second, minimal(name="myboard"), "myboard.yaml")
    listed = [str(first), "", str(tmp_path / "absent"), str(second)]  # empty and missing entries are skipped
    monkeypatch.setenv("EDGEFER_TARGETS_PATH", os.pathsep.join(listed))
    assert load_target("rpi4").cpu.model == "Mine"  # the first folder listed wins, then the next, built-in last
    assert load_target("myboard").path == str(second / "myboard.yaml")
    assert {"myboard", "rpi4", "rpi5"} <= set(list_targets())
    assert load_target("rpi5").path == str(targets_dir() / "rpi5.yaml")
    assert run(["targets", "list", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed["rpi4"]["from"] == str(first) and listed["myboard"]["from"] == str(second)
    assert listed["rpi5"]["from"] == "built-in" and listed["rpi4"]["cpu"] == "Mine"


def test_user_profiles_from_the_config_folder(tmp_path, monkeypatch):
    config = tmp_path / "config-home" / "edgefer" / "targets"
    write(config, minimal(name="desk"), "desk.yaml")
    assert load_target("desk").path == str(config / "desk.yaml")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "home" / ".config" / "edgefer" / "targets", minimal(name="den"), "den.yaml")
    assert "den" in list_targets() and "desk" not in list_targets()
    monkeypatch.setenv("EDGEFER_TARGETS_PATH", str(config))  # the variable replaces the config folder
    assert "desk" in list_targets() and "den" not in list_targets()


def test_a_path_still_works_and_unknown_names_list_user_profiles(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    write(mine, minimal(name="myboard"), "myboard.yaml")
    monkeypatch.setenv("EDGEFER_TARGETS_PATH", str(mine))
    assert load_target(mine / "myboard.yaml").name == "myboard"
    with pytest.raises(EdgeferError) as exc:
        load_target("nope")
    assert "unknown target 'nope'" in exc.value.one_line() and "myboard" in exc.value.one_line()


def test_an_install_without_the_profiles_package_says_how_to_fix_it(monkeypatch, capsys):
    import edgefer.targets.loader as loader

    monkeypatch.setattr(loader, "BUILTIN_PACKAGE", "edgefer.no_such_profiles")
    assert run(["targets", "show", "rpi4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not installed" in err and "pip install -e ." in err
