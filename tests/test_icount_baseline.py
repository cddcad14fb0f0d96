"""A performance gate no noisy CI machine can trip: guest instructions per inference of small zoo
artifacts on the emulated board, against the committed baseline tests/data/icount_baseline.json.

mobilenet_v1 (48x48 gray) is converted to ONNX fp32 and int8 for each CPU view (int8 with the
activation type each profile picks: U8 on the Cortex-A72 view, S8 dot-product on the A76 view),
then counted with `bench(..., count_instructions=True)`. A count more than TOLERANCE above its
baseline fails (a regression in the ARM code path); more than TOLERANCE below fails too, asking for
the baseline to be updated (a stale baseline would hide the next regression). Update with
    EDGEFER_UPDATE_ICOUNT_BASELINE=1 python -m pytest tests/test_icount_baseline.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _icount_helpers import counting_target, icount_missing

_why = icount_missing()
pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.skipif(_why is not None, reason=str(_why))]

BASELINE = Path(__file__).parent / "data" / "icount_baseline.json"
MODEL = "mobilenet_v1"
# Counts on one machine are exact (tests/test_icount_plugin.py); the tolerance covers what may
# differ on another one: the host's /sys (cache sizes, CPU count) read through the emulator.
TOLERANCE = 0.02
RUNS, WARMUP = 3, 1


@pytest.fixture(scope="module")
def counts(tmp_path_factory) -> dict[str, dict]:
    from edgefer.bench.api import bench
    from edgefer.convert.api import ConvertOptions, convert
    from edgefer.runner.settings import BenchSettings

    out: dict[str, dict] = {}
    for cpu, profile in (("cortex-a72", "qemu-aarch64"), ("cortex-a76", "qemu-aarch64-a76")):
        conv = tmp_path_factory.mktemp("convert") / f"{MODEL}-{cpu}"
        res = convert(ConvertOptions(model=MODEL, out=conv, formats=("onnx",), target=profile, calib_samples=16),
                      check=False)
        assert not res.errors, res.errors
        target = counting_target(cpu, tmp_path_factory.mktemp("board"))
        for rep in bench(str(conv), BenchSettings(runs=RUNS, warmup=WARMUP, threads=1, energy="none",
                                               count_instructions=True),
                         target=target, repeat=1):  # counts are exact: one repeat is enough
            out[f"{MODEL} onnx {rep['artifact']['precision']} {cpu}"] = {**rep, "_target": target, "_converted": conv}
    return out


def test_counts_are_labelled_and_cover_the_timed_runs_only(counts):
    assert len(counts) == 4
    for key, rep in counts.items():
        ins = rep["instructions"]
        assert rep["environment"]["emulated"] is True
        assert ins["cpu_view"] == key.split()[-1] and ins["mode"] == "tb" and ins["plugin_api"] == 1
        assert ins["qemu"].startswith("qemu-aarch64 version 7.2") and ins["hash_seed"] == "0"
        assert ins["guest_threads"] == 1  # the wrapper keeps numpy's and onnxruntime's threads away
        assert ins["n_inferences"] == RUNS == len(ins["per_call"]) == len(rep["timing"]["samples_ns"])
        assert ins["total"] == sum(ins["per_call"]) and ins["per_inference"] == ins["total"] / RUNS
        assert 0 < ins["marker_overhead"] < 50_000 < ins["per_inference"]
        # the first inference (not counted in the total) does one-off work: allocations, kernel set-up
        assert ins["first_inference"] > ins["per_inference_max"]
        assert "proxy for work, not time" in ins["method"]


def test_the_same_artifact_counted_twice_agrees(counts):
    """Determinism goal: identical; the issue's bound: within 0.1%."""
    from edgefer.bench.api import bench
    from edgefer.runner.settings import BenchSettings

    first = counts[f"{MODEL} onnx fp32 cortex-a72"]
    again = bench(str(first["_converted"]), BenchSettings(runs=RUNS, warmup=WARMUP, threads=1, energy="none",
                                                  count_instructions=True),
                  precision="fp32", target=first["_target"], repeat=1)[0]
    a, b = first["instructions"]["total"], again["instructions"]["total"]
    assert abs(b / a - 1) <= 0.001, (a, b)
    print(f"counted twice: {a} and {b} ({'identical' if a == b else f'x{b / a:.6f}'})")


def test_int8_does_less_work_and_dot_product_less_still(counts):
    c = {k: r["instructions"]["per_inference"] for k, r in counts.items()}
    a72_fp32, a72_int8 = c[f"{MODEL} onnx fp32 cortex-a72"], c[f"{MODEL} onnx int8 cortex-a72"]
    a76_fp32, a76_int8 = c[f"{MODEL} onnx fp32 cortex-a76"], c[f"{MODEL} onnx int8 cortex-a76"]
    assert a72_int8 < a72_fp32 and a76_int8 < a76_fp32
    assert a76_int8 < a72_int8  # SDOT kernels on the A76 view
    assert abs(a76_fp32 / a72_fp32 - 1) < 0.05  # fp32 uses the same NEON kernels on both views


def test_compare_gates_on_instruction_counts(counts):
    from edgefer.compare.reports import compare_reports

    fp32, int8 = counts[f"{MODEL} onnx fp32 cortex-a72"], counts[f"{MODEL} onnx int8 cortex-a72"]
    fp32, int8 = ({k: v for k, v in r.items() if not k.startswith("_")} for r in (fp32, int8))
    cmp = compare_reports([{**int8, "label": "int8"}, {**fp32, "label": "fp32"}], threshold=0.05)
    row = next(m for m in cmp.metrics["fp32"] if m.metric == "instructions")
    assert row.ratio == fp32["instructions"]["per_inference"] / int8["instructions"]["per_inference"]
    assert row.ci_low is None and row.p_value is None and row.verdict == "more" and row.worse
    assert any("instructions /inference more by" in r for r in cmp.regressions)
    same = compare_reports([{**fp32, "label": "a"}, {**fp32, "label": "b"}], threshold=0.0)
    assert next(m for m in same.metrics["b"] if m.metric == "instructions").verdict == "same"
    assert not any("instructions" in r for r in same.regressions)


def test_counts_match_the_committed_baseline(counts):
    measured = {k: round(r["instructions"]["per_inference"]) for k, r in counts.items()}
    if os.environ.get("EDGEFER_UPDATE_ICOUNT_BASELINE"):
        ins = next(iter(counts.values()))["instructions"]
        BASELINE.write_text(json.dumps({
            "what": "guest instructions per inference, edgefer bench --count-instructions, runs 3, warmup 1, threads 1",
            "tolerance": TOLERANCE, "qemu": ins["qemu"], "counter": ins["counter"], "mode": ins["mode"],
            "counts": dict(sorted(measured.items()))}, indent=1) + "\n")
    baseline = json.loads(BASELINE.read_text())["counts"]
    assert set(baseline) == set(measured)
    grown = [f"{k}: {measured[k]:,} vs baseline {baseline[k]:,} (x{measured[k] / baseline[k]:.4f})"
             for k in baseline if measured[k] > baseline[k] * (1 + TOLERANCE)]
    assert not grown, f"instruction counts grew by more than {TOLERANCE:.0%}: " + "; ".join(grown)
    shrunk = [f"{k}: {measured[k]:,} vs {baseline[k]:,}" for k in baseline if measured[k] < baseline[k] * (1 - TOLERANCE)]
    assert not shrunk, ("instruction counts fell by more than the tolerance (good news): update the baseline with "
                        "EDGEFER_UPDATE_ICOUNT_BASELINE=1: " + "; ".join(shrunk))
