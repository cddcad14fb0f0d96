"""edgefer installed from its wheel works away from the checkout: board profiles and paper data are
package data, the console script runs, and nothing is read through the source tree.

The wheel is built from a copy of the sources (the checkout stays clean) and installed with --no-deps
into a fresh venv outside the checkout. That venv sees the dependencies already installed here through
a .pth file that lists this environment's site-packages as plain paths: .pth files inside those folders
are not processed, so this environment's editable edgefer does not leak in."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from _bench_models import tiny_conv_onnx

REPO = Path(__file__).resolve().parents[1]
# what the wheel is built from; pyproject.toml names nothing else (readme, package-dir targets/)
WHEEL_SOURCES = ("pyproject.toml", "README.md", "edgefer", "targets")


def test_every_package_is_listed_in_pyproject():
    """pyproject lists its packages (edgefer.profiles is targets/, which discovery cannot map): a new
    subpackage left off that list would be missing from the wheel."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "edgefer").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | {"edgefer.profiles"}
    assert config["package-dir"] == {"edgefer.profiles": "targets"}


def _outer_site_packages() -> list[str]:
    paths = [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    return list(dict.fromkeys(p for p in paths if Path(p).is_dir()))


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with edgefer installed from a freshly built wheel."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for name in WHEEL_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(src)]
    built = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (root / "dist").glob("edgefer-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "outer-environment.pth").write_text("".join(f"{p}\n" for p in _outer_site_packages()))
    install = [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    installed = subprocess.run(install, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv


def _run(venv: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A command of the wheel venv (`edgefer` is its console script), run from a folder outside the
    checkout, without user profiles."""
    if args[0] == "edgefer":
        args = (str(venv / "bin" / "edgefer"), *args[1:])
    cwd = venv.parent / "cwd"
    cwd.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDGEFER_TARGETS_PATH")}
    clean.update({"XDG_CONFIG_HOME": str(cwd / "config"), "EDGEFER_LOCK_DIR": str(cwd), "COLUMNS": "200",
                  "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})})
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=clean, timeout=300)


@pytest.mark.slow
def test_the_wheel_imports_from_its_venv_with_its_package_data(wheel_venv):
    probe = ("import edgefer, edgefer.profiles\n"
             "from edgefer.targets import targets_dir\n"
             "from edgefer.reproduce.papers import DEFAULT_PATH\n"
             "print(edgefer.__file__); print(targets_dir()); print(DEFAULT_PATH)")
    p = _run(wheel_venv, str(wheel_venv / "bin" / "python"), "-c", probe)
    assert p.returncode == 0, p.stderr
    files = [Path(line).resolve() for line in p.stdout.split()]
    for path in files:
        assert path.is_relative_to(wheel_venv.resolve()) and not path.is_relative_to(REPO), path
    assert (files[1] / "rpi4.yaml").is_file() and files[2].name == "papers.yaml"


@pytest.mark.slow
def test_targets_list_and_show_from_the_wheel(wheel_venv, tmp_path):
    listed = _run(wheel_venv, "edgefer", "targets", "list")
    assert listed.returncode == 0, listed.stderr
    for name in ("rpi4", "rpi5", "jetson-orin-nano", "snapdragon-8gen2", "local"):
        assert name in listed.stdout
    assert "built-in" in listed.stdout
    shown = _run(wheel_venv, "edgefer", "targets", "show", "rpi4")
    assert shown.returncode == 0, shown.stderr
    assert "Cortex-A72" in shown.stdout and "int8_activation_type: U8" in shown.stdout
    assert f"{os.sep}edgefer{os.sep}profiles{os.sep}rpi4.yaml" in shown.stdout
    mine = tmp_path / "my-targets"
    mine.mkdir()
    (mine / "desk.yaml").write_text("name: desk\narch: aarch64\ncpu: {model: Desk, cores: 2}\n")
    user_env = {"EDGEFER_TARGETS_PATH": str(mine)}
    with_user = _run(wheel_venv, "edgefer", "targets", "list", "--json", env=user_env)
    assert with_user.returncode == 0, with_user.stderr
    origins = {t["name"]: t["from"] for t in json.loads(with_user.stdout)}
    assert origins["desk"] == str(mine) and origins["rpi4"] == "built-in"


@pytest.mark.slow
def test_models_reproduce_and_bench_from_the_wheel(wheel_venv, tmp_path):
    models = _run(wheel_venv, "edgefer", "models")
    assert models.returncode == 0, models.stderr
    assert "mobilenetv3" in models.stdout.lower() and "params" in models.stdout
    assert _run(wheel_venv, "edgefer", "reproduce", "--help").returncode == 0
    unknown = _run(wheel_venv, "edgefer", "reproduce", "no-such-paper")  # known papers: from papers.yaml
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert "unknown paper 'no-such-paper'" in unknown.stderr and "mobilenetv3-ca-dka" in unknown.stderr
    model = tiny_conv_onnx(tmp_path / "tiny.onnx")
    bench = _run(wheel_venv, "edgefer", "bench", str(model), "--runs", "5", "--warmup", "1", "--repeat", "1",
                 "--min-seconds", "0", "--energy", "none", "--json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    report = json.loads(bench.stdout)
    assert report["settings"]["repeat"] == 1 and report["statistics"]["n"] == 5
    assert report["target"]["name"] == "local"
