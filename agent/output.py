"""How the CLI speaks: machine JSON on stdout with ``--json``, rich text otherwise.

With ``--json`` nothing but one JSON document goes to stdout; messages go to stderr.

Nothing untrusted reaches the terminal raw. Workflow contents (model names, node types, notes, URLs) end
up in almost every line we print, and an ESC, ``\\r`` or bidi override in them could clear or rewrite what
the user is about to approve. So the rule lives here, at the output layer, not at each call site:

* :class:`InertConsole` (``console`` and ``err_console``) passes every ``str`` it renders through
  :func:`comfyfixer.tools.text.inert` in :meth:`InertConsole.render_str` — before markup is parsed, so
  our own ``[bold]`` still works while an attacker's text can no longer hold an ESC. rich routes
  ``print``/``log`` arguments, table cells, headers, titles and captions, rule titles and column items
  through ``render_str``.
* What does not pass there (``Text`` objects built directly, ``Text.from_markup``, e.g. progress-bar
  descriptions) is caught in :meth:`InertConsole.render`, which inerts the text of every non-control
  segment and drops hyperlinks (the CLI prints none of its own, so a link can only come from injected
  markup and would hide its target).
* :class:`InertFormatter` does the same for log lines on stderr; :func:`emit_json` writes the unsafe
  characters as JSON ``\\u`` escapes (same data, harmless on a terminal).

Output written around rich (``typer.echo``, ``click.echo``, prompts of ``typer.confirm``, ``sys.stdout``)
is not covered and must call :func:`comfyfixer.tools.text.inert` itself. The console keeps ``\n`` and
``\t`` (our own output has multi-line blocks); code that prints one line per untrusted fact makes the line
single-line itself with ``inert(line)``, as :func:`comfyfixer.agent.plan.summary_lines` does. Markup is not
a control character: untrusted text in a markup string still needs ``rich.markup.escape`` (or
``markup=False``), or ``[/]`` in a name raises and ``[red]`` restyles.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from comfyfixer.tools.text import inert, inert_json

if TYPE_CHECKING:
    from comfyfixer.agent.console import InertConsole


# Human output on stdout; warnings and errors on stderr so `--json` stays clean.
# Made on first use (rich is imported then): a command that prints only JSON never loads it.
console: InertConsole
err_console: InertConsole
_CONSOLES: dict[str, dict[str, Any]] = {"console": {}, "err_console": {"stderr": True}}


def _console(name: str) -> InertConsole:
    made = globals().get(name)
    if made is None:
        from comfyfixer.agent.console import InertConsole

        made = globals()[name] = InertConsole(highlight=False, soft_wrap=True, **_CONSOLES[name])
    return made


def __getattr__(name: str) -> Any:
    if name in _CONSOLES:
        return _console(name)
    if name == "InertConsole":
        from comfyfixer.agent.console import InertConsole

        return InertConsole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

EXIT_OK = 0
EXIT_FINDINGS = 1  # only with --strict: the command worked but found problems
EXIT_USAGE = 2  # bad arguments or unreadable input


class InertFormatter(logging.Formatter):
    """A log ``Formatter`` for terminals: the message and any traceback are made inert.

    Log messages carry untrusted names. Newlines are kept (tracebacks, multi-line messages) but every
    continuation line is indented, so a name with a newline cannot forge a log line of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Format as ``logging.Formatter`` does, then inert the whole line."""
        text = inert(super().format(record), multiline=True)
        return text.replace("\n", "\n  ") if "\n" in text else text


def setup_logging(verbose: int = 0) -> None:
    """Log to stderr at the CLI's verbosity (``-v`` info, ``-vv`` debug), through :class:`InertFormatter`:
    log lines carry workflow names, whose control and bidi characters are shown as escapes."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    # Module names help only when debugging; a user just needs the message.
    fmt = "%(levelname)s %(name)s: %(message)s" if verbose > 1 else "%(levelname)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(InertFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])


def _jsonable_leaf(obj: Any) -> Any:
    """What ``json.dumps`` cannot write itself: a pydantic model as its JSON data, anything else as text
    (the encoder asks only for these, so plain data is never walked twice)."""
    return obj.model_dump(mode="json") if isinstance(obj, BaseModel) else str(obj)


# A float (or NaN, infinity) in an indented document: a space before it (after the key's ": " or the
# list item's indentation) and its line's end after it. A string holds no raw newline, so this finds
# exactly the number tokens.
_FLOAT_TOKEN = re.compile(r" (-?(?:[0-9]+[.eE][0-9.eE+-]*|NaN|Infinity)),?\n")


class _NotPlain(Exception):
    """A value the fast encoder would write differently from ``json.dumps``."""


def _not_plain(obj: Any) -> Any:
    raise _NotPlain(type(obj).__name__)


def dumps_plain(obj: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False)`` of plain JSON data (dicts with
    ``str`` keys, lists, ``str``, ``int``, ``float``, ``bool``, ``None``), byte for byte, encoded in Rust
    (pydantic-core) when it can be: about 5x faster on a ``check --json`` document of 2 MB.

    The fast text is kept only when every number in it is written as Python writes it (``repr``: the
    encoders differ on small floats such as ``1e-05``), there is no NaN or infinity (which ``json.dumps``
    refuses) and no value outside JSON (a model, a date, a lone surrogate); otherwise ``json.dumps`` runs.
    """
    import pydantic_core

    if not isinstance(obj, (dict, list)):  # a bare scalar has no line of its own to match
        return json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False, default=_jsonable_leaf)
    try:
        text = pydantic_core.to_json(obj, indent=2, fallback=_not_plain, serialize_unknown=False).decode("utf-8")
    except (_NotPlain, ValueError, TypeError, pydantic_core.PydanticSerializationError):
        return json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False, default=_jsonable_leaf)
    for m in _FLOAT_TOKEN.finditer(text):
        token = m.group(1)
        try:
            if repr(float(token)) != token:
                break
        except ValueError:
            continue
    else:
        return text
    return json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False, default=_jsonable_leaf)


def emit_json(obj: Any, *, plain: bool = False) -> None:
    """Write one JSON document to stdout.

    The data stays exact; only characters a terminal would act on (C1 controls, bidi, zero-width, lone
    surrogates, which ``ensure_ascii=False`` would leave raw) are written as ``\\uXXXX`` escapes.
    ``plain=True`` says ``obj`` is plain JSON data (no models): it is then encoded by :func:`dumps_plain`,
    with the same text.
    """
    if plain:
        text = dumps_plain(obj)
    else:
        text = json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False, default=_jsonable_leaf)
    sys.stdout.write(inert_json(text))
    sys.stdout.write("\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """Print ``error: message`` to stderr (``message`` is plain text, not markup)."""
    _console("err_console").print(f"[bold red]error:[/] {_escape_markup(message)}", markup=True)


def wants_json(argv: list[str] | None) -> bool:
    """Whether a command line asks for ``--json`` (before any ``--``)."""
    args = sys.argv[1:] if argv is None else argv
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def fail(message: str, exit_code: int, *, json_out: bool, hint: str | None = None, kind: str = "UsageError",
         shown: bool = False) -> int:
    """Say a command failed: ``error: …`` on stderr (unless already ``shown``) and, for ``--json``, one JSON
    document on stdout (``status`` ERROR, the message and hint apart, the error's kind and the exit code), so
    a script that reads stdout gets an answer either way. Returns ``exit_code``."""
    if not shown:
        error(message if hint is None else f"{message} ({hint})")
    if json_out:
        emit_json({"status": "ERROR", "error": message, "hint": hint, "kind": kind, "exit_code": exit_code},
                  plain=True)
    return exit_code


def warn(message: str) -> None:
    """Print ``warning: message`` to stderr (``message`` is plain text, not markup)."""
    _console("err_console").print(f"[yellow]warning:[/] {_escape_markup(message)}", markup=True)


def _escape_markup(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def show_plan(summary: list[str], notes: list[str], plan_file: str | None, *, has_actions: bool = True) -> None:
    """The plan as the user reads it before approving, its notes, and the next step (plans from
    ``fix``, ``comfyui install-nodes`` and ``undo`` are shown the same way)."""
    console = _console("console")
    for line in summary:
        console.print(line, markup=False)
    for note in notes:
        warn(note)
    if plan_file is None:
        console.print("\n(dry run: plan not saved)", markup=False)
        return
    console.print(f"\nPlan saved to {plan_file}", markup=False)
    if has_actions:
        console.print(f"Next: comfyfixer approve {plan_file} then comfyfixer apply {plan_file} --token …",
                      markup=False)
