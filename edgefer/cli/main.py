"""Entry point of the `edgefer` console script."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from edgefer import __version__
from edgefer.errors import EdgeferError

app = typer.Typer(
    name="edgefer",
    help=(
        "Take facial-expression-recognition models to ARM edge boards and measure them honestly: "
        "profile, convert (ONNX/TFLite, fp32/int8), deploy, bench, compare, reproduce."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# One module per command group; each has register(app). Order = order in --help.
COMMAND_MODULES = (
    "edgefer.cli.cmd_zoo",  # models, profile
    "edgefer.cli.cmd_convert",  # convert
    "edgefer.cli.cmd_bench",  # bench, report show
    "edgefer.cli.cmd_compare",  # compare
    "edgefer.cli.cmd_targets",  # targets list/show/check
    "edgefer.cli.cmd_deploy",  # deploy
    "edgefer.cli.cmd_reproduce",  # reproduce
    "edgefer.cli.cmd_study",  # study
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"edgefer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and a non-zero exit."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except EdgeferError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            typer.echo("aborted", err=True)
            return 1
        if os.environ.get("EDGEFER_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc} (set EDGEFER_DEBUG=1 for a traceback)", err=True)
        return 3
    return rc if isinstance(rc, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
