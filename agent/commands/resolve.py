"""``comfyfixer resolve``: where to download a missing model file, or which pack provides a node class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from comfyfixer.tools.errors import InputError

if TYPE_CHECKING:
    from comfyfixer.agent.config import Settings
    from comfyfixer.tools.catalogs.manager import ManagerCatalog
    from comfyfixer.tools.catalogs.notes import NotesIndex
    from comfyfixer.tools.resolver import ModelResolver, Verdict

SOURCES_HELP = "Comma list of sources to consult: workflow,hash,catalogs,hf,civitai (default: all)."


def register(app: typer.Typer) -> None:
    app.command("resolve")(resolve_command)


def build_model_resolver(settings: Settings, catalog: ManagerCatalog | None, *, use_templates: bool = True) -> ModelResolver:
    """A resolver wired from settings: catalogs, Hugging Face and Civitai clients, disk cache."""
    from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs
    from comfyfixer.tools.civitai import CivitaiClient
    from comfyfixer.tools.huggingface import HuggingFaceClient
    from comfyfixer.tools.resolver import DiskCache, ModelResolver

    index = build_model_index(catalog, find_template_dirs() if use_templates else [])
    hf = HuggingFaceClient(endpoint=settings.hf_endpoint, token=settings.secret("hf_token"),
                           timeout=settings.http_timeout, retries=settings.http_retries, offline=settings.offline)
    civitai = None if settings.offline else CivitaiClient(
        base_url=settings.civitai_base_url, token=settings.secret("civitai_token"),
        timeout=settings.http_timeout, retries=settings.http_retries)
    return ModelResolver(index=index, hf=hf, civitai=civitai, cache=DiskCache(settings.cache_dir / "resolver"),
                         notes=_notes())


def _notes() -> NotesIndex | None:
    """The knowledge pack's model notes (data shipped with the package)."""
    import comfyfixer.knowledge as knowledge
    from comfyfixer.tools.catalogs.notes import load_notes

    folder = Path(knowledge.__file__).parent
    return load_notes(folder) if folder.is_dir() else None


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
    json_out: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> int:
    """Find the exact download for a missing model (or the pack for an unknown node), with evidence."""
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.output import EXIT_FINDINGS, emit_json
    from comfyfixer.agent.services import catalog_for
    from comfyfixer.tools.comfy_registry import ComfyRegistryClient
    from comfyfixer.tools.resolver import ModelQuery, NodeQuery, NodeResolver, Status

    if sum(x is not None for x in (filename, workflow, node)) != 1:
        raise InputError("give exactly one of FILENAME, --workflow or --node")
    srcs = _parse_sources(sources)
    settings = load_settings()
    catalog = catalog_for(settings) if "catalogs" in srcs or node or workflow else None
    verdicts: list[Verdict] = []
    registry = None if settings.offline else ComfyRegistryClient(
        settings.comfy_registry_url, timeout=settings.http_timeout, retries=settings.http_retries)
    if node is not None:
        try:
            verdicts.append(NodeResolver(catalog, registry).resolve(NodeQuery(class_type=node, cnr_id=cnr_id)))
        finally:
            if registry is not None:
                registry.close()
    else:
        resolver = build_model_resolver(settings, catalog if "catalogs" in srcs else None)
        try:
            if filename is not None:
                q = ModelQuery(filename=filename, folder=folder, hashes=_hashes(hash_), url_hint=url,
                               base_model_hint=base_model)
                verdicts.append(resolver.resolve(q, sources=srcs, use_cache=not no_cache))
            else:
                assert workflow is not None
                verdicts += _resolve_workflow(workflow, resolver, NodeResolver(catalog, registry), catalog, srcs,
                                              not no_cache)
        finally:
            for client in (resolver.hf, resolver.civitai, registry):
                if client is not None:
                    client.close()
    if json_out:
        items = [verdict_json(v) for v in verdicts]
        emit_json({"workflow": str(workflow), "items": items} if workflow is not None else items[0])
    else:
        _print(verdicts)
    if strict and any(v.status != Status.RESOLVED for v in verdicts):
        return EXIT_FINDINGS
    return 0


def _resolve_workflow(path: Path, resolver: ModelResolver, nodes: Any, catalog: ManagerCatalog | None,
                      srcs: tuple[str, ...], use_cache: bool) -> list[Verdict]:
    from comfyfixer.tools.resolver import ModelQuery, NodeQuery
    from comfyfixer.tools.workflow import inspect_workflow

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    result = inspect_workflow(path, catalog=catalog)
    out: list[Verdict] = []
    seen: set[tuple[str, str | None]] = set()
    for ref in result.models:
        key = (ref.filename, ref.folder)
        if key in seen:
            continue
        seen.add(key)
        hashes = {ref.hash_type or "SHA256": ref.hash} if ref.hash else {}
        out.append(resolver.resolve(ModelQuery(filename=ref.filename, folder=ref.folder, hashes=hashes, url_hint=ref.url),
                                    sources=srcs, use_cache=use_cache))
    for finding in result.custom_nodes:
        if finding.status == "CORE_UPDATE":
            continue
        cnr = finding.packs[0].id if len(finding.packs) == 1 else None
        out.append(nodes.resolve(NodeQuery(class_type=finding.class_type, cnr_id=cnr)))
    return out


def _print(verdicts: list[Verdict]) -> None:
    from comfyfixer.agent.output import console

    colours = {"RESOLVED": "green", "UNCERTAIN": "yellow", "NOT_FOUND": "red"}
    for v in verdicts:
        age = f" (cached, {v.age_seconds() / 60:.0f} min old)" if v.from_cache else ""
        console.print(f"[bold]{v.query}[/] [{colours[v.status]}]{v.status}[/]{age}", markup=True)
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
