"""`edgefer models` and `edgefer profile`."""

from __future__ import annotations

import json
from typing import Optional

import typer

from edgefer.cli.model_args import HELP as MODEL_ARG_HELP
from edgefer.cli.model_args import parse_model_args
from edgefer.errors import EdgeferError


def _fmt_count(n: float, unit: str = "") -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {suffix}{unit}"
    return f"{n:.0f} {unit}".strip()


def models(
    as_json: bool = typer.Option(False, "--json", help="Print the zoo as JSON instead of a table."),
) -> None:
    """List the model zoo: name, paper, default input and parameter count."""
    import torch
    from rich.console import Console
    from rich.table import Table

    from edgefer.zoo import create_model, get_entry, list_models
    from edgefer.zoo.profile import count_params

    rows = []
    for name in list_models():
        entry = get_entry(name)
        with torch.device("meta"):  # shapes only: no memory, no weight init (VGG-19 is 139.6 M params)
            params, _ = count_params(create_model(name))
        rows.append({**entry.to_dict(), "params": params})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="edgefer model zoo (7 classes, default input)")
    for col in ("model", "paper", "input (CxHxW)", "preprocessing", "params"):
        table.add_column(col, justify="right" if col == "params" else "left")
    for r in rows:
        h, w = r["input_size"]
        table.add_row(r["name"], r["paper"], f"{r['in_chans']}x{h}x{w}", r["preprocessing"]["color"],
                      _fmt_count(r["params"]))
    Console().print(table)


def profile(
    model: str = typer.Argument(..., help="Zoo model name (see `edgefer models`)."),
    input_size: Optional[tuple[int, int]] = typer.Option(
        None, "--input-size", help="Input height and width (default: the model's).", metavar="H W"
    ),
    channels: Optional[int] = typer.Option(None, "--channels", help="Input channels (default: the model's)."),
    num_classes: int = typer.Option(7, "--num-classes", help="Number of output classes."),
    as_json: bool = typer.Option(False, "--json", help="Print the profile as JSON."),
    model_arg: Optional[list[str]] = typer.Option(None, "--model-arg", help=MODEL_ARG_HELP, metavar="KEY=VALUE"),
) -> None:
    """Parameters, MACs and FLOPs for one sample at batch 1 (FLOPs = 2 x MACs)."""
    from rich.console import Console
    from rich.table import Table

    from edgefer.zoo.profile import profile_zoo_model

    if not 1 <= num_classes <= 100_000:
        raise EdgeferError(f"--num-classes must be between 1 and 100000, got {num_classes}")
    if channels is not None and not 1 <= channels <= 64:
        raise EdgeferError(f"--channels must be between 1 and 64, got {channels}")
    if input_size is not None and not all(8 <= v <= 4096 for v in input_size):
        raise EdgeferError(f"--input-size must be two sizes between 8 and 4096 pixels, got {input_size[0]} {input_size[1]}")
    prof = profile_zoo_model(model, input_size=input_size, channels=channels, num_classes=num_classes,
                             **parse_model_args(model_arg))
    if as_json:
        typer.echo(json.dumps(prof.to_dict(), indent=2))
        return
    table = Table(title=f"{prof.model} @ {'x'.join(map(str, prof.input_shape))}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("params (total)", f"{prof.params_total:,} ({_fmt_count(prof.params_total)})")
    table.add_row("params (trainable)", f"{prof.params_trainable:,}")
    table.add_row("MACs", f"{prof.macs:,} ({_fmt_count(prof.macs)})")
    table.add_row("FLOPs (2 x MACs)", f"{prof.flops:,} ({_fmt_count(prof.flops)})")
    table.add_row("fp32 weights", _fmt_count(prof.fp32_weight_bytes, "B"))
    table.add_row("int8 weights (estimate)", _fmt_count(prof.int8_weight_bytes_estimate, "B"))
    for op, n in prof.flops_by_op.items():
        table.add_row(f"  FLOPs in {op}", _fmt_count(n))
    console = Console()
    console.print(table)
    console.print(f"[dim]Counted by torch.utils.flop_counter.FlopCounterMode. Not counted: {prof.not_counted}.[/dim]")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("profile")(profile)
