"""How the CLI speaks: machine JSON on stdout with ``--json``, rich text otherwise.

With ``--json`` nothing but one JSON document goes to stdout; messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console

# Human output on stdout; warnings and errors on stderr so `--json` stays clean.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK = 0
EXIT_FINDINGS = 1  # only with --strict: the command worked but found problems
EXIT_USAGE = 2  # bad arguments or unreadable input


def to_jsonable(obj: Any) -> Any:
    """Turn pydantic models (and lists/dicts of them) into plain JSON data."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), ensure_ascii=False, indent=2, allow_nan=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", markup=True)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", markup=True)
