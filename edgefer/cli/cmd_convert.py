"""`edgefer convert`: thin CLI over `edgefer.convert.convert` with progress and a summary."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator, Optional

import typer

from edgefer.cli.model_args import HELP as MODEL_ARG_HELP
from edgefer.cli.model_args import parse_model_args
from edgefer.errors import EdgeferError


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise EdgeferError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def _json_args(text: str | None) -> dict:
    if not text:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EdgeferError(f"--module-args is not valid JSON: {exc.msg}") from None
    if not isinstance(args, dict):
        raise EdgeferError("--module-args must be a JSON object, e.g. '{\"num_classes\": 7}'")
    return args


def _fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


@contextlib.contextmanager
def _progress(console) -> Iterator:
    """A rich progress display whose `step(desc)` context marks one conversion step."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if not console.is_terminal:  # progress only on a TTY: logs and pipes get the summary alone
        yield lambda _desc: contextlib.nullcontext()
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as prog:

        @contextlib.contextmanager
        def step(desc: str) -> Iterator[None]:
            task = prog.add_task(desc, total=1)
            try:
                yield
            except BaseException:
                prog.update(task, description=f"[red]x {desc}")
                raise
            prog.update(task, completed=1, description=f"[green]ok[/] {desc}")

        yield step


def _summary(console, result) -> None:
    from rich.table import Table

    m = result.manifest
    sizes = {(a["format"], a["precision"]): a["size_bytes"] for a in m["artifacts"]}
    t = Table(title=f"edgefer convert: {m['model']['name']} -> {result.out_dir}")
    t.add_column("artifact", no_wrap=True)
    for col in ("size", "size/fp32", "max|dlogit|", "agree", "acc", "F1", "verified"):
        t.add_column(col, justify="right", no_wrap=True)
    ref = (m.get("verification") or {}).get("pytorch_fp32")
    if ref:
        t.add_row("PyTorch fp32 (ref)", "", "", "", "", f"{100 * ref['accuracy']:.2f}%",
                  f"{ref['macro_f1']:.3f}", "")
    for a in m["artifacts"]:
        v = a.get("verification") or {}
        fp32 = sizes.get((a["format"], "fp32"))
        ratio = f"{a['size_bytes'] / fp32:.2f}" if a["precision"] in ("int8", "fp16") and fp32 else ""
        met = v.get("metrics")
        par = v.get("parity")
        status = "skipped" if not v else ("[green]pass" if v["passed"] else "[red]FAIL")
        t.add_row(
            a["file"], _fmt_bytes(a["size_bytes"]), ratio,
            f"{par['max_abs_diff']:.2e}" if par else "",
            f"{100 * v['top1_agreement']:.1f}%" if "top1_agreement" in v else "",
            f"{100 * met['accuracy']:.2f}%" if met else "",
            f"{met['macro_f1']:.3f}" if met and met["macro_f1"] is not None else "",
            status,
        )
    console.print(t)
    if ref:
        _recall_table(console, m, ref)
    for a in m["artifacts"]:
        for v in (a.get("verification") or {}).get("violations", []):
            console.print(f"[red]gate[/] {a['file']}: {v}")
    for err in result.errors:
        console.print(f"[red]failed[/] {err}")
    for w in m["warnings"]:
        console.print(f"[bold yellow]warning:[/] {w}")


def _recall_table(console, m: dict, ref: dict) -> None:
    """Per-class recall side by side: where quantization hurts a minority class, it shows here."""
    from rich.table import Table

    t = Table(title="per-class recall")
    t.add_column("class")
    t.add_column("support", justify="right")
    t.add_column("PyTorch fp32", justify="right")
    arts = [a for a in m["artifacts"] if (a.get("verification") or {}).get("metrics")]
    for a in arts:
        t.add_column(f"{a['format']} {a['precision']}", justify="right")
    for name in m["class_names"]:
        row = [name, str(ref["support"][name])]
        for met in [ref] + [a["verification"]["metrics"] for a in arts]:
            r = met["per_class_recall"][name]
            row.append("" if r is None else f"{r:.3f}")
        t.add_row(*row)
    console.print(t)


def convert_cmd(
    model: Optional[str] = typer.Argument(None, help="Zoo model name (see `edgefer models`); omit with --module."),
    module: Optional[str] = typer.Option(None, "--module", help="Your own architecture: pkg.module:factory "
        "or path/file.py:factory (a function or nn.Module class)."),
    module_args: Optional[str] = typer.Option(None, "--module-args", help="JSON object of keyword arguments "
        "for --module, e.g. '{\"num_classes\": 7}'."),
    model_arg: Optional[list[str]] = typer.Option(None, "--model-arg", help=MODEL_ARG_HELP, metavar="KEY=VALUE"),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", help="Checkpoint: a state_dict, or a "
        "dict with a state_dict/model key ('module.' prefixes are stripped)."),
    input_size: Optional[tuple[int, int]] = typer.Option(None, "--input-size", help="Input height and width "
        "(H W); required with --module, overrides the zoo default."),
    channels: Optional[int] = typer.Option(None, "--channels", help="Input channels (1 = grayscale, 3 = "
        "RGB); required with --module."),
    class_names: Optional[str] = typer.Option(None, "--class-names", help="Comma-separated class names in "
        "logit order (default: the zoo's / the 7 FER2013 classes)."),
    mean: Optional[str] = typer.Option(None, "--mean", help="Normalisation mean per channel, "
        "comma-separated (default: zoo entry, or 0.5 gray / ImageNet RGB)."),
    std: Optional[str] = typer.Option(None, "--std", help="Normalisation std per channel, comma-separated."),
    out: Path = typer.Option(Path("edgefer-out"), "--out", "-o", help="Output directory for the artifacts and manifest.json."),
    to: str = typer.Option("onnx,tflite", "--to", help="Formats to produce, comma-separated: onnx, tflite."),
    precision: str = typer.Option("fp32,int8", "--precision", help="Precisions to produce, comma-separated: "
        "fp32, int8, fp16 (fp16: float16 weights, verified at a 1e-2 relative logit tolerance)."),
    target: Optional[str] = typer.Option(None, "--target", help="Target profile (name in targets/ or a YAML "
        "path): picks the int8 activation type for it."),
    calib: Optional[str] = typer.Option(None, "--calib", help="Calibration data: FER2013 CSV (Training "
        "split unless path.csv:Split), class folder, .npy or .npz. Without it int8 is calibrated on random "
        "data."),
    calib_samples: int = typer.Option(256, "--calib-samples", help="Class-stratified calibration samples drawn from --calib."),
    eval_data: Optional[str] = typer.Option(None, "--eval", help="Evaluation data (same formats; FER2013 "
        "CSV defaults to PublicTest): parity, and accuracy/recall gates when labelled."),
    eval_samples: int = typer.Option(1000, "--eval-samples", help="Class-stratified evaluation samples (0 = all)."),
    opset: int = typer.Option(18, "--opset", help="ONNX opset (>= 18 for torch's dynamo exporter)."),
    dynamic_batch: bool = typer.Option(False, "--dynamic-batch", help="Export ONNX with a symbolic batch "
        "dimension (default: batch 1)."),
    activation_type: Optional[str] = typer.Option(None, "--activation-type", help="ONNX int8 activation "
        "type U8 or S8 (default: from --target; else U8 on x86_64, S8 on aarch64)."),
    calibration: str = typer.Option("minmax", "--calibration", help="ONNX int8 calibration method: minmax, "
        "entropy or percentile."),
    tflite_io: str = typer.Option("int8", "--tflite-io", help="I/O dtype of the int8 TFLite model: int8 or float32."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Verify every artifact against PyTorch (default) or skip it."),
    parity_tol: float = typer.Option(1e-3, "--parity-tol", help="fp32 gate: max |logit difference| relative "
        "to the largest |PyTorch logit|."),
    fp16_parity_tol: Optional[float] = typer.Option(None, "--fp16-parity-tol", help="fp16 gate, the same "
        "measure (default 1e-2)."),
    max_accuracy_drop: Optional[float] = typer.Option(None, "--max-accuracy-drop", help="int8 gate: fail if "
        "accuracy drops more than this many percentage points below PyTorch fp32 (needs labelled --eval)."),
    min_class_recall_ratio: Optional[float] = typer.Option(None, "--min-class-recall-ratio", help="int8 gate: fail if "
        "any class's int8/fp32 recall ratio falls below this (e.g. 0.8; needs labelled --eval)."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling and random fallback data."),
    as_json: bool = typer.Option(False, "--json", help="Print manifest.json to stdout instead of the summary table."),
) -> None:
    """Convert a model to ONNX/TFLite (fp32, int8, fp16), verify every artifact, write manifest.json.

    Exit 0: all artifacts produced and verified. Exit 1: a verification gate failed. Exit 2: bad input,
    or a format could not be produced (the others are still written).
    """
    from edgefer.convert import ConvertOptions
    from edgefer.runner.options import interrupt_on_sigterm

    interrupt_on_sigterm()  # SIGTERM takes Ctrl-C's path: the staging directory is removed
    opts = ConvertOptions(
        model=model, module=module, module_args={**_json_args(module_args), **parse_model_args(model_arg)},
        weights=weights,
        input_size=tuple(input_size) if input_size else None, channels=channels,
        class_names=[c.strip() for c in class_names.split(",")] if class_names else None,
        mean=_floats(mean, "--mean"), std=_floats(std, "--std"), out=out,
        formats=tuple(to.split(",")), precisions=tuple(precision.split(",")), target=target,
        calib=calib, calib_samples=calib_samples, eval=eval_data,
        eval_samples=eval_samples or None, opset=opset, dynamic_batch=dynamic_batch,
        activation_type=activation_type, calibration=calibration, tflite_io=tflite_io, verify=verify,
        parity_tol=parity_tol, fp16_parity_tol=fp16_parity_tol, max_accuracy_drop=max_accuracy_drop,
        min_class_recall_ratio=min_class_recall_ratio, seed=seed,
    )
    _convert_and_show(opts, as_json)


def _convert_and_show(opts, as_json: bool) -> None:
    """Convert with a progress display on a terminal, then the manifest (--json) or the summary
    table; a failed gate exits 1 after both."""
    from rich.console import Console

    from edgefer.convert import convert

    with _progress(Console(stderr=True)) as step:
        result = convert(opts, step=step, check=False)
    if as_json:
        typer.echo(json.dumps(result.manifest, indent=2))
    else:
        _summary(Console(), result)
    result.check()


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_cmd)
