"""`edgefer targets list|show|check`: the board profiles in targets/*.yaml."""

from __future__ import annotations

import json

import typer

targets_app = typer.Typer(
    help="Board profiles (targets/*.yaml): list them, show one, check a file.",
    no_args_is_help=True,
)


@targets_app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print the profiles as JSON."),
    labgrid: str = typer.Option(None, "--labgrid", metavar="ADDRESS",
                                help="List the places of this labgrid coordinator (HOST[:PORT]) instead: tags, holder, board."),
) -> None:
    """List the target profiles (user folders and built-in): name, board, arch, CPU, connection, origin."""
    if labgrid is not None:
        from edgefer.cli.lab_places import print_places

        return print_places(labgrid, as_json)
    from rich.console import Console
    from rich.table import Table

    from edgefer.targets import find_profiles, load_target, profile_origin

    targets = [load_target(path) for _, path in sorted(find_profiles().items())]
    if as_json:
        typer.echo(json.dumps([{**t.summary(), "cpu": t.cpu.model, "emulated": t.emulated,
                                "from": profile_origin(t.path), "file": t.path} for t in targets], indent=2))
        return
    table = Table(title="edgefer targets (user folders, then built-in; docs/targets.md)")
    table.add_column("name", no_wrap=True)
    for col in ("arch", "cpu", "int8", "via", "energy", "from"):
        table.add_column(col)
    for t in targets:
        cpu = f"{t.cpu.model}{' [emulated]' if t.emulated else ''}"
        origin = profile_origin(t.path)
        table.add_row(t.name, t.arch, cpu, t.int8_activation_type(), t.transport, t.energy.type, origin)
    Console().print(table)


@targets_app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="Target name (targets/NAME.yaml) or path to a YAML file."),
    as_json: bool = typer.Option(False, "--json", help="Print the resolved profile as JSON."),
) -> None:
    """Print one profile with defaults filled in and the derived int8 activation type."""
    import yaml

    from edgefer.targets import load_target

    t = load_target(name)
    data = {**t.model_dump(mode="json"), "derived": {"int8_activation_type": t.int8_activation_type(), "file": t.path}}
    typer.echo(json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False).rstrip())


@targets_app.command("check")
def check_cmd(
    file: str = typer.Argument(..., help="Path to a profile YAML (or a target name)."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when there are warnings."),
) -> None:
    """Validate a profile (errors name the field and file, exit 2) and print hardware-aware warnings."""
    from edgefer.targets import load_target
    from edgefer.targets.checks import check_target

    t = load_target(file)
    warnings = check_target(t)
    typer.echo(f"{t.path}: valid profile '{t.name}' ({t.arch}, {t.cpu.model}, {t.transport})")
    for w in warnings:
        typer.echo(f"warning: {w}")
    if not warnings:
        typer.echo("no warnings")
    if strict and warnings:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(targets_app, name="targets")
