"""The typer application behind ``comfyfixer`` (``agent/cli.py`` is the entry point and lists the
command modules; this module imports typer, so it is imported only when a command really runs)."""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

try:  # recent typer carries its own copy of click, and raises that copy's exceptions
    from typer import _click
except ImportError:  # pragma: no cover - older typer on the real click
    import click as _click  # type: ignore[no-redef]

from comfyfixer.agent import __version__
from comfyfixer.agent.cli import COMMAND_MODULES
from comfyfixer.agent.output import EXIT_USAGE, fail, setup_logging, wants_json
from comfyfixer.tools.errors import ComfyFixerError

_MODULE_OF = {command: module for module, commands in COMMAND_MODULES.items() for command in commands}
_TYPER_OPTIONS: dict[str, Any] = {"add_completion": False, "pretty_exceptions_enable": False, "rich_markup_mode": None}


class _LazyGroup(TyperGroup):
    """The root group: a command module is imported and registered the first time one of its commands is
    looked up, so running one command does not import the other twenty."""

    def _load(self, module: str) -> None:
        sub = typer.Typer(**_TYPER_OPTIONS)
        importlib.import_module(f"comfyfixer.agent.commands.{module}").register(sub)
        for name, command in typer.main.get_group(sub).commands.items():
            self.add_command(command, name)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """The command ``cmd_name``, importing its module on first use."""
        module = _MODULE_OF.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            self._load(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        """Every command, in ``COMMAND_MODULES`` order (imports every command module)."""
        for module, commands in COMMAND_MODULES.items():
            if any(c not in self.commands for c in commands):
                self._load(module)
        return list(_MODULE_OF)


app = typer.Typer(
    name="comfyfixer",
    help="Make ComfyUI workflows runnable here: inspect, check, resolve, fix, reconstruct.",
    no_args_is_help=True,
    cls=_LazyGroup,
    **_TYPER_OPTIONS,
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
    setup_logging(verbose)


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code."""
    json_out = wants_json(argv)
    try:
        rv = app(args=argv, standalone_mode=False)
    except ComfyFixerError as exc:
        return fail(exc.message, exc.exit_code, json_out=json_out, hint=exc.hint, kind=type(exc).__name__)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        return fail("aborted", EXIT_USAGE, json_out=json_out)
    except Exception as exc:  # click's usage errors
        if isinstance(exc, _click.ClickException):
            exc.show()  # click's own usage text on stderr
            return fail(exc.format_message(), EXIT_USAGE, json_out=json_out, shown=True)
        raise
    return rv if isinstance(rv, int) else 0

