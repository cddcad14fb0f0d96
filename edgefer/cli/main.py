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
    "edgefer.cli.cmd_pipeline",  # pipeline (face detection -> crop -> classify)
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


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(usage/parameter errors, aborts) of the click that typer actually uses: typer >= 0.16
    bundles its own copy (typer._click), older ones use the click package; catch both."""
    usage: list[type] = []
    abort: list[type] = [typer.Abort]
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        usage.append(m.ClickException)
        if hasattr(m, "Abort"):
            abort.append(m.Abort)
    return tuple(usage), tuple(abort)


def _usage_line(exc: Exception) -> str:
    """One line: the message, and where to read more (the command's --help)."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(str(message).split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(ctx, "command_path", None):
        return f"{message} (see '{ctx.command_path} --help')"
    return message


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit 2 (a failed gate: 1)."""
    usage_errors, aborts = _click_exception_types()
    try:
        rc = app(args=argv, standalone_mode=False, prog_name="edgefer")
    except EdgeferError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except usage_errors as exc:  # unknown option, bad value, missing argument, unknown command
        if type(exc).__name__ == "NoArgsIsHelpError":  # `edgefer` or `edgefer targets` alone: the help
            typer.echo(exc.format_message() if hasattr(exc, "format_message") else str(exc))
            return 0
        typer.echo(f"error: {_usage_line(exc)}", err=True)
        code = getattr(exc, "exit_code", 2)
        return code if code else 2
    except aborts:
        typer.echo("aborted", err=True)
        return 1
    except Exception as exc:
        if os.environ.get("EDGEFER_DEBUG"):
            raise
        typer.echo(f"error: internal error: {type(exc).__name__}: {exc} (set EDGEFER_DEBUG=1 for a traceback)", err=True)
        return 3
    if rc == 130:  # typer turns KeyboardInterrupt (Ctrl-C, SIGTERM) into Exit(130), returned here
        sys.stderr.write("interrupted\n")
    return rc if isinstance(rc, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
