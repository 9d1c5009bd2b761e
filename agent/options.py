"""The command-line options every command spells the same way, declared once.

typer reads an option's flags and help from the ``typer.Option`` object a parameter defaults to, so
one object serves every command that takes the option; a command with a different meaning for the
same flag declares its own.
"""

from __future__ import annotations

import typer

JSON_OUT = typer.Option(False, "--json", help="Print one JSON document only (messages go to stderr).")
COMFYUI = typer.Option(None, "--comfyui", help="The ComfyUI folder (holds models/ and custom_nodes/).")
ENDPOINT = typer.Option(None, "--endpoint", help="RunPod endpoint id (default: COMFYFIXER_RUNPOD_ENDPOINT_ID).")
