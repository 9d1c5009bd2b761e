"""The ``comfyfixer`` command: a thin shell over the library.

Exit codes: 0 ok; 1 findings (only with ``--strict``); 2 usage or input error.
Each command lives in ``comfyfixer.agent.commands.<name>`` and imports its heavy
stack (HTTP clients, LLM) inside the command body, so ``comfyfixer --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from comfyfixer.agent import __version__
from comfyfixer.agent.output import EXIT_USAGE, InertFormatter, error
from comfyfixer.tools.errors import ComfyFixerError

# Modules under comfyfixer.agent.commands, each with `register(app: typer.Typer)`.
COMMAND_MODULES = [
    "inspect",
    "image",
    "reconstruct",
    "check",
    "chat",
    "fix",
    "resolve",
    "catalogs",
    "runpod",
    "comfyui",
    "schedule",
    "knowledge",
    "hardware",
    "fit",
    "tune",
    "review",
    "diff",
    "identify",
    "workflows_for",
    "build",
    "undo",
]

app = typer.Typer(
    name="comfyfixer",
    help="Make ComfyUI workflows runnable here: inspect, check, resolve, fix, reconstruct.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More log output on stderr (-vv for debug)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    # Module names help only when debugging; a user just needs the message.
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose > 1 else "%(levelname)s: %(message)s"
    # Log lines carry workflow names: the formatter shows their control and bidi characters as escapes.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(InertFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])


for _name in COMMAND_MODULES:
    importlib.import_module(f"comfyfixer.agent.commands.{_name}").register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this)."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except ComfyFixerError as exc:
        error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        error("aborted")
        return EXIT_USAGE
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.exceptions.Exit):
            return int(exc.exit_code or 0)
        if isinstance(exc, click.ClickException):
            exc.show()
            return EXIT_USAGE
        raise
    return rv if isinstance(rv, int) else 0


def main() -> None:
    sys.exit(run())
