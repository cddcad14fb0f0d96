"""One settings type per runner, from the CLI to the device: the flags `to_argv()` writes are what
the runner's argparse reads back (`from_namespace()`), and the defaults the CLI and the runner
show are the dataclass's own, declared once."""

from __future__ import annotations

import pytest
import typer.main

from edgefer.errors import EdgeferError
from edgefer.runner.pipeline.settings import PipelineSettings
from edgefer.runner.settings import BenchSettings


def _subparser(module: str, command: str):
    import importlib

    parser = importlib.import_module(module)._parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[command]


def _cli_defaults(command: str) -> dict[str, object]:
    from edgefer.cli.main import app

    click_cmd = typer.main.get_command(app).commands[command]
    return {p.name: p.default for p in click_cmd.params}


def test_bench_settings_round_trip_through_the_runner_flags():
    s = BenchSettings(runs=7, warmup=2, min_seconds=0.5, batch_size=4, threads=3, cpus=(0, 1), cooldown_s=1.0,
                      runtime="onnxruntime", providers=("CPUExecutionProvider",), input_shape=(1, 1, 48, 48),
                      precision="int8", energy={"type": "rapl", "optional": True}, idle_s=0.5,
                      accel={"allow_fallback": True}, count_instructions=False, op_profile=3,
                      repeat_index=2).validate()
    ns = _subparser("edgefer.runner.__main__", "bench").parse_args(["model.onnx", "--out", "r.json", *s.to_argv()])
    assert BenchSettings.from_namespace(ns) == s


def test_pipeline_settings_round_trip_through_the_runner_flags():
    s = PipelineSettings(frames=5, fps=15.0, duration_s=2.0, warmup=1, threads=2, runtime="litert", resize="numpy",
                         nms="plain", crop_margin=0.25, energy={"type": "hwmon", "optional": True},
                         precision="int8").validate()
    argv = ["--classifier", "c.onnx", "--detector", "haar", "--source", "x.png", "--out", "r.json", *s.to_argv()]
    assert PipelineSettings.from_namespace(_subparser("edgefer.runner.pipeline.__main__", "run").parse_args(argv)) == s


def test_runner_defaults_are_the_settings_defaults():
    run = _subparser("edgefer.runner.pipeline.__main__", "run").parse_args(
        ["--classifier", "c", "--detector", "d", "--source", "s", "--out", "o"])
    assert PipelineSettings.from_namespace(run) == PipelineSettings()
    bench = _subparser("edgefer.runner.__main__", "bench").parse_args(["m.onnx", "--out", "o"])
    from_flags = BenchSettings.from_namespace(bench)
    for name in ("batch_size", "energy", "idle_s", "op_profile", "repeat_index"):
        assert getattr(from_flags, name) == BenchSettings.default(name), name


def test_cli_defaults_are_the_settings_defaults():
    pipeline = _cli_defaults("pipeline")
    for option, field in (("warmup", "warmup"), ("resize", "resize"), ("nms", "nms"), ("crop_margin", "crop_margin"),
                          ("energy", "energy")):
        assert pipeline[option] == PipelineSettings.default(field), option
    bench = _cli_defaults("bench")
    for option, field in (("batch_size", "batch_size"), ("energy", "energy"), ("idle_seconds", "idle_s"),
                          ("op_profile", "op_profile")):
        assert bench[option] == BenchSettings.default(field), option


@pytest.mark.parametrize("changes, message", [
    ({"frames": 0}, "--frames must be an integer >= 1"), ({"fps": float("nan")}, "--fps must be a finite number"),
    ({"fps": 10.0}, "--fps needs --duration"), ({"warmup": -1}, "--warmup must be an integer >= 0"),
    ({"crop_margin": 3.0}, "--crop-margin must be between 0 and 2"), ({"threads": 0}, "--threads must be between"),
    ({"resize": "gpu"}, "invalid --resize 'gpu'"), ({"nms": "soft"}, "invalid --nms 'soft'"),
    ({"energy": "measure"}, "invalid --energy 'measure'"), ({"precision": "int4"}, "--precision must be one of"),
])
def test_pipeline_settings_refuse_bad_values_in_one_line(changes, message):
    with pytest.raises(EdgeferError) as exc:
        PipelineSettings(**changes).validate()
    assert message in exc.value.one_line()
