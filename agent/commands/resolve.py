"""``comfyfixer resolve``: where to download a missing model file, or which pack provides a node class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from comfyfixer.agent.options import JSON_OUT
from comfyfixer.tools.errors import InputError

if TYPE_CHECKING:
    from comfyfixer.tools.resolver import Verdict

SOURCES_HELP = "Comma list of sources to consult: workflow,hash,catalogs,hf,civitai (default: all)."


def register(app: typer.Typer) -> None:
    app.command("resolve")(resolve_command)


def verdict_json(v: Verdict) -> dict[str, Any]:
    data = v.model_dump(mode="json")
    data["age_seconds"] = round(v.age_seconds(), 1)
    return data


def _parse_sources(text: str | None) -> tuple[str, ...]:
    from comfyfixer.tools.resolver import ALL_SOURCES

    if not text:
        return ALL_SOURCES
    wanted = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    bad = [s for s in wanted if s not in ALL_SOURCES]
    if bad:
        raise InputError(f"unknown source {bad[0]!r}", hint=f"choose from {','.join(ALL_SOURCES)}")
    return wanted


def _hashes(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    from comfyfixer.tools.civitai.hashes import guess_kinds

    kinds = guess_kinds(value)
    if not kinds:
        raise InputError(f"{value!r} is not a hex hash", hint="give a SHA256 (64 hex) or a Civitai AutoV2 (10 hex)")
    return {kinds[0].value: value}


def resolve_command(
    filename: str | None = typer.Argument(None, help="A model filename as the workflow writes it."),
    workflow: Path | None = typer.Option(None, "--workflow", help="Resolve every model and unknown node of a workflow."),
    node: str | None = typer.Option(None, "--node", help="Resolve an unknown node class_type to its pack."),
    folder: str | None = typer.Option(None, "--folder", help="Folder kind: checkpoints, loras, vae, diffusion_models, ..."),
    hash_: str | None = typer.Option(None, "--hash", help="The file's SHA256 or AutoV2 hash."),
    cnr_id: str | None = typer.Option(None, "--cnr-id", help="With --node: the pack's registry id, if the workflow gives one."),
    url: str | None = typer.Option(None, "--url", help="A download URL hint."),
    base_model: str | None = typer.Option(None, "--base-model", help="Base model hint, e.g. SDXL."),
    sources: str | None = typer.Option(None, "--sources", help=SOURCES_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ask the sources again even if a fresh verdict is cached."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 unless everything is RESOLVED."),
    json_out: bool = JSON_OUT,
) -> int:
    """Find the exact download for a missing model (or the pack for an unknown node), with evidence."""
    from comfyfixer.agent import services
    from comfyfixer.agent.output import EXIT_FINDINGS, emit_json
    from comfyfixer.tools.resolver import ModelQuery, NodeQuery, ResolveStatus
    from comfyfixer.tools.resolver.tools import WorkflowQuery

    if sum(x is not None for x in (filename, workflow, node)) != 1:
        raise InputError("give exactly one of FILENAME, --workflow or --node")
    srcs = list(_parse_sources(sources))
    _, ctx = services.context(use_cache=not no_cache)
    with ctx:
        if node is not None:
            verdicts = [services.run("resolve_node", NodeQuery(class_type=node, cnr_id=cnr_id), ctx)]
        elif filename is not None:
            q = ModelQuery(filename=filename, folder=folder, hashes=_hashes(hash_), url_hint=url,
                           base_model_hint=base_model, sources=srcs)
            verdicts = [services.run("resolve_model", q, ctx)]
        else:
            assert workflow is not None
            found = services.run("resolve_workflow", WorkflowQuery(path=str(workflow), sources=srcs), ctx)
            verdicts = found.items
    if json_out:
        items = [verdict_json(v) for v in verdicts]
        emit_json({"workflow": str(workflow), "items": items} if workflow is not None else items[0])
    else:
        _print(verdicts)
    if strict and any(v.status != ResolveStatus.RESOLVED for v in verdicts):
        return EXIT_FINDINGS
    return 0


def _print(verdicts: list[Verdict]) -> None:
    from rich.markup import escape

    from comfyfixer.agent.output import console

    colours = {"RESOLVED": "green", "UNCERTAIN": "yellow", "NOT_FOUND": "red"}
    for v in verdicts:
        age = f" (cached, {v.age_seconds() / 60:.0f} min old)" if v.from_cache else ""
        console.print(f"[bold]{escape(v.query)}[/] [{colours[v.status]}]{v.status}[/]{age}", markup=True)
        for c in v.candidates[:5]:
            extra = ", ".join(x for x in (
                f"{c.size / 1024**3:.2f} GiB" if c.size else "", f"sha256 {c.sha256[:12]}…" if c.sha256 else "",
                "gated" if c.gated else "", "needs token" if c.needs_token and not c.gated else "",
                c.license or "") if x)
            console.print(f"  {c.score:.2f} [{c.source}] {c.url}" + (f"  ({extra})" if extra else ""), markup=False)
            for r in c.reasons:
                console.print(f"       {r}", markup=False)
        if v.status == "NOT_FOUND":
            for s in v.searched:
                console.print(f"  searched: {s}", markup=False)
