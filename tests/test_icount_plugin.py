"""The instruction-count plugin itself (cross/icount-plugin) under the real dynamic qemu-aarch64,
and every error path of --count-instructions.

A trivial guest program marks regions with edgefer.runner.icount.mark(); the plugin's counts
must be the same from run to run, grow with the work inside a region, agree between the
per-block and per-instruction counting modes, and ignore unmatched markers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _deploy_helpers import tiny_onnx
from _icount_helpers import PLUGIN, QEMU_DIR, icount_missing, wrapper

from edgefer.errors import EdgeferError

ROOT = Path(__file__).resolve().parents[1]
_why = icount_missing()
needs_board = pytest.mark.skipif(_why is not None, reason=str(_why))

GUEST = """
import json, os, sys
from edgefer.runner.icount import BEGIN, END, WRITE, InstructionCounter, mark
c = InstructionCounter()
mark(BEGIN); mark(END)                                   # empty region
mark(BEGIN); s = sum(range(1000)); mark(END)
mark(BEGIN); s = sum(range(100000)); mark(END)
mark(END)                                                # END without BEGIN: ignored
mark(BEGIN)                                              # left open: not a region
print(json.dumps({"regions": c.collect(), **{k: c.info[k] for k in ("mode", "vcpus", "region_open", "plugin_api")}}))
"""


def _guest(tmp_path: Path, code: str, cpu: str = "cortex-a72", **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "EDGEFER_ICOUNT_OUT": str(tmp_path / "ic-%p.json"), **env}
    return subprocess.run([str(wrapper(cpu)), "-c", code], capture_output=True, text=True, env=full, timeout=120)


def _regions(tmp_path: Path, **env: str) -> dict:
    res = _guest(tmp_path, GUEST, **env)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.qemu
@needs_board
def test_trivial_program_counts_are_identical_and_grow_with_the_work(tmp_path):
    first, second = _regions(tmp_path), _regions(tmp_path)
    assert first == second  # deterministic: the same guest program, the same counts
    empty, small, large = first["regions"]  # the unmatched END and the open BEGIN made no region
    assert 0 < empty < small < large
    # sum(range(n)) is a loop in C: the work grows about linearly in n
    assert 50 < (large - empty) / (small - empty) < 150
    assert first["mode"] == "tb" and first["vcpus"] == 1 and first["region_open"] is True and first["plugin_api"] == 1
    assert not list(tmp_path.glob("ic-*.json"))  # the reader removes the plugin's file


@pytest.mark.qemu
@needs_board
def test_block_and_instruction_modes_agree(tmp_path):
    tb, insn = _regions(tmp_path), _regions(tmp_path, EDGEFER_ICOUNT_MODE="insn")
    assert insn["mode"] == "insn"
    assert insn["regions"] == tb["regions"]  # no block is left half-way in this program


@pytest.mark.qemu
@needs_board
def test_markers_are_harmless_without_the_plugin(tmp_path):
    """The same marker calls under the board's plain wrapper (no plugin) and on the host."""
    code = "from edgefer.runner.icount import mark\nfor c in (1, 2, 3): mark(c)\nprint('ok')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for python in (str(QEMU_DIR / "python-cortex-a72"), sys.executable):
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


@pytest.mark.qemu
@needs_board
def test_plugin_rejects_unknown_arguments(tmp_path):
    res = subprocess.run(["qemu-aarch64", "-plugin", f"{PLUGIN},colour=blue", "/bin/true"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "edgefer-icount: unknown argument 'colour=blue'" in res.stderr


@pytest.mark.qemu
@needs_board
def test_counting_wrapper_without_plugin_names_what_to_run(tmp_path):
    broken = tmp_path / "python-cortex-a72-icount"
    broken.write_text(wrapper("cortex-a72").read_text().replace(str(PLUGIN), str(tmp_path / "missing.so")))
    broken.chmod(0o755)
    res = subprocess.run([str(broken), "-c", "pass"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: instruction counting is not set up")
    assert "bash cross/setup-qemu-aarch64.sh" in res.stderr


def test_runner_without_the_counting_wrapper_is_a_one_line_error(tmp_path):
    model = tiny_onnx(tmp_path / "tiny.onnx")
    env = {k: v for k, v in os.environ.items() if k != "EDGEFER_ICOUNT_OUT"}
    res = subprocess.run([sys.executable, "-m", "edgefer.runner", "bench", str(model), "--out", str(tmp_path / "r.json"),
                          "--runs", "2", "--energy", "none", "--count-instructions"],
                         capture_output=True, text=True, env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: instruction counting asked, but this python does not run under the counting plugin")
    assert not (tmp_path / "r.json").exists()


def test_runner_when_the_plugin_does_not_answer(tmp_path, monkeypatch):
    """EDGEFER_ICOUNT_OUT set (as by the wrapper) but no plugin loaded: the first marker finds no file."""
    from edgefer.runner.icount import InstructionCounter

    monkeypatch.setenv("EDGEFER_ICOUNT_OUT", str(tmp_path / "ic-%p.json"))
    with pytest.raises(EdgeferError, match="the instruction-count plugin did not answer"):
        InstructionCounter.open()


def test_counting_on_a_real_or_unprepared_target_names_what_to_run(tmp_path):
    from edgefer.bench.instructions import counting_target
    from edgefer.cli.main import run
    from edgefer.targets import Target, load_target

    with pytest.raises(EdgeferError, match="needs an emulated target; 'rpi4' is real hardware.*setup-board.sh"):
        counting_target(load_target("rpi4"), True)
    model = tiny_onnx(tmp_path / "tiny.onnx")
    assert run(["bench", str(model), "--target", "local", "--count-instructions", "--runs", "1"]) == 2
    emulated = load_target("qemu-aarch64").model_dump()
    no_spec = Target.model_validate({**emulated, "instruction_counts": None})
    with pytest.raises(EdgeferError, match="has no instruction_counts.python"):
        counting_target(no_spec, True)
    missing = Target.model_validate({**emulated, "instruction_counts": {"python": [str(tmp_path / "nope-icount")]}})
    with pytest.raises(EdgeferError, match=r"counting wrapper .*nope-icount is missing.*cross/setup-qemu-aarch64.sh"):
        counting_target(missing, True)
    assert counting_target(missing, None) == (missing, False)  # default off: nothing checked
    default_on = Target.model_validate({**emulated, "instruction_counts": {"python": ["/x/icount"], "default": True},
                                        "connection": {"type": "ssh", "host": "board.example", "port": 22}})
    tgt, counting = counting_target(default_on, None)
    assert counting and tgt.python == ["/x/icount"]
    assert counting_target(default_on, False) == (default_on, False)


def test_profile_rejects_instruction_counts_on_real_hardware():
    from pydantic import ValidationError

    from edgefer.targets import Target, load_target

    with pytest.raises(ValidationError, match="instruction_counts is for emulated targets only"):
        Target.model_validate({**load_target("rpi4").model_dump(), "instruction_counts": {"python": ["x"]}})


@pytest.mark.qemu
@pytest.mark.slow
@needs_board
def test_reproduce_shows_counts_beside_the_emulated_timings(tmp_path):
    import yaml
    from _icount_helpers import counting_target

    from edgefer.reproduce import paper_table, reproduce
    from edgefer.runner.settings import BenchSettings

    profile = tmp_path / "qemu-counting.yaml"
    data = counting_target("cortex-a72", tmp_path / "board").model_dump(exclude_none=True)
    data["instruction_counts"]["default"] = True  # the profile turns counting on: no option needed
    profile.write_text(yaml.safe_dump(data))
    papers = tmp_path / "papers.yaml"
    papers.write_text("schema_version: 1\npapers:\n  - {id: 998_test, short_name: tiny, title: t, models: ["
                      "{zoo: mobilenet_v1, label: M, role: proposed}]}\n")
    res = reproduce("tiny", target=str(profile), formats=("onnx",), precisions=("int8",), out=tmp_path / "out",
                    settings=BenchSettings(runs=2, warmup=1, min_seconds=0.0, threads=1, energy="none"),
                    papers_path=papers, plot=False)
    (row,) = res.papers[0].rows
    assert row.error is None and row.emulated and row.instructions > 1e6
    head, (cells,) = paper_table(res.papers[0])
    assert head[-1] == "M insn/inf (emulated)" and cells[-1] == f"{row.instructions / 1e6:.2f}"
    assert "(emulated)" in cells[head.index("p50 ms")]


def _counted(report: dict, per_inference: float, cpu_view: str = "cortex-a72") -> dict:
    return {**report, "instructions": {"method": "test input", "n_inferences": 300, "total": int(per_inference * 300),
                                       "per_inference": per_inference, "cpu_view": cpu_view, "mode": "tb"}}


def test_compare_counts_are_exact_and_gated_without_the_board():
    from _synthetic_reports import repeat_samples, synthetic_report

    BASE = repeat_samples(10.0, seed=1)

    from edgefer.compare.reports import compare_reports

    a = _counted(synthetic_report(BASE, "a"), 1_000_000)
    b = _counted(synthetic_report(BASE, "b"), 1_004_000)  # +0.4%: beyond a 0.1% gate, within 1%
    row = next(m for m in compare_reports([a, b]).metrics["b"] if m.metric == "instructions")
    assert row.ratio == 1.004 and row.ci_low is None and row.verdict == "more"
    assert any("instructions" in r for r in compare_reports([a, b], threshold=0.001).regressions)
    assert not any("instructions" in r for r in compare_reports([a, b], threshold=0.01).regressions)
    plain = synthetic_report(BASE, "c")
    row = next(m for m in compare_reports([a, plain]).metrics["c"] if m.metric == "instructions")
    assert row.ratio is None and row.verdict.startswith("n/a (c: not counted")
    other_view = _counted(synthetic_report(BASE, "d"), 500_000, cpu_view="cortex-a76")
    cmp = compare_reports([a, other_view])
    assert any("instruction counts from a different CPU view" in w for w in cmp.warnings)
    assert "| instructions /inference [insn] | 1000000 | 500000 (x0.500) fewer |" in cmp.markdown()
    comparison = compare_reports([synthetic_report(BASE, "x"), synthetic_report(BASE, "y")])
    assert comparison.reports[0].values.get("instructions") is None


@pytest.mark.qemu
@pytest.mark.ssh
@needs_board
def test_bench_over_ssh_counts_with_the_profiles_wrapper(tmp_path):
    """The way a profile is used: deploy over SSH, the runner under python-<cpu>-icount."""
    from _deploy_helpers import ssh_missing, start_sshd

    from edgefer.bench.api import bench
    from edgefer.runner.settings import BenchSettings

    if ssh_missing():
        pytest.skip(ssh_missing())
    server = start_sshd(tmp_path / "sshd")
    try:
        target = server.target("qemu-aarch64-a76", workdir=str(tmp_path / "work"),
                               python=[str(QEMU_DIR / "python-cortex-a76")],
                               instruction_counts={"python": [str(wrapper("cortex-a76"))], "default": True})
        (rep,) = bench(str(tiny_onnx(tmp_path / "tiny.onnx")), BenchSettings(runs=4, warmup=2, energy="none"), target=target)
    finally:
        server.stop()
    ins = rep["instructions"]
    assert rep["target"]["transport"] == "ssh" and ins["cpu_view"] == "cortex-a76" and ins["n_inferences"] == 4
    assert len(ins["per_call"]) == 4 and ins["per_inference"] > 0 and ins["guest_threads"] == 1
