"""The reconstruct tool as the chat agent calls it: collaborators built from the ``ToolContext``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.reconstruct.evidence import resolver_sources
from comfyfixer.tools.reconstruct.models import ReconstructInput, ReconstructResult
from comfyfixer.tools.reconstruct.reconstruct import reconstruct

log = logging.getLogger(__name__)


def _schemas(ctx: ToolContext) -> Any:
    from comfyfixer.tools.schema import bundled_core_schemas, load_object_info

    if ctx.object_info_file is not None:
        return ctx.memo(f"schemas:{ctx.object_info_file}", lambda: load_object_info(ctx.object_info_file))
    return bundled_core_schemas()


def local_model_names(comfyui_dir: Path, extra_model_paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Folder key → model names the local ComfyUI's loaders list (static read of its folders)."""
    from comfyfixer.tools.inventory import InventoryInput, build_inventory

    inv = build_inventory(InventoryInput(comfyui_dir=comfyui_dir, extra_model_paths=extra_model_paths or []))
    return {key: sorted(names) for key, names in inv.models.files.items()}


def reconstruct_workflow(inp: ReconstructInput, ctx: ToolContext) -> ReconstructResult:
    """Rebuild the ComfyUI workflow that made an image, and say how sure each part is.

    Give exactly one source: ``image`` (a local PNG/JPEG/WebP path, or a civitai.com image or post
    URL), ``civitai_image_id`` or ``civitai_post_id``. The best evidence wins: a ComfyUI graph
    embedded in the image is returned unchanged; otherwise the generation parameters (A1111, Forge,
    SD.Next, Fooocus, NovelAI, InvokeAI, SwarmUI, Civitai) are turned into a graph from ComfyUI's node
    schemas. The answer lists ``certain`` facts, ``inferred`` parts (what, why, confidence 0..1),
    the ``models`` with hashes and resolver verdicts (RESOLVED / UNCERTAIN / NOT_FOUND), the node
    packs needed, and ``status`` OK / UNCERTAIN / FAILED. Tell the user about every inferred part
    with confidence below 0.5 and every model that is not RESOLVED. Set ``out_dir`` to save
    ``<name>.workflow.json`` (open it in ComfyUI) and ``<name>.api.json``; existing files are never
    overwritten. Without ``out_dir`` the graphs are not returned (they are large): only the report.
    """
    civitai = None
    resolver = None
    closers: list[Any] = []
    if not ctx.offline:
        from comfyfixer.tools.civitai import CivitaiClient
        from comfyfixer.tools.resolver import DiskCache, ModelResolver

        civitai = CivitaiClient(base_url=ctx.civitai_base_url, token=ctx.secret("civitai_token"),
                                timeout=ctx.http_timeout, retries=ctx.http_retries)
        closers.append(civitai)
        model_resolver = ModelResolver(civitai=civitai, cache=DiskCache(Path(ctx.cache_dir) / "resolver"))

        def resolver(query: Any) -> Any:
            return model_resolver.resolve(query, sources=resolver_sources(query))

    readiness = None
    comfyui = inp.comfyui_dir or (str(ctx.comfyui_dir) if ctx.comfyui_dir else None)
    if comfyui:
        from comfyfixer.tools.readiness import CheckInput, check_workflows

        def readiness(path: Path, _dir: str) -> dict[str, Any]:
            res = check_workflows(CheckInput(paths=[str(path)], comfyui_dir=Path(comfyui),
                                             object_info_file=ctx.object_info_file))
            return res.workflows[0].model_dump(mode="json", exclude={"path", "name"}) if res.workflows else {}

    try:
        local = local_model_names(Path(comfyui), list(ctx.extra_model_paths)) if comfyui else None
        result = reconstruct(inp, schemas=_schemas(ctx), civitai=civitai, resolver=resolver, readiness=readiness,
                             local_files=local)
    finally:
        for c in closers:
            c.close()
    if not inp.out_dir:
        result.workflow = result.api = None
        result.notes.append("the graphs were not saved: give out_dir to write the workflow files")
    return result
