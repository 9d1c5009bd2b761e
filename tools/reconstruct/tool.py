"""The ``reconstruct_workflow`` capability: the reconstruction with its collaborators taken from the
:class:`ToolContext` (schemas, Civitai, the resolver, the local ComfyUI), and the one way to save
what it rebuilt.

The resolver here is restricted to identity lookups (``evidence.resolver_sources``), and the readiness
check runs only when a ComfyUI folder is configured. The capability's docstring is the assistant's tool
description; ``out_dir`` is a keyword the CLI passes and the model cannot (it is not in the input model).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.reconstruct.evidence import resolver_sources
from comfyfixer.tools.reconstruct.models import ReconstructInput, ReconstructResult
from comfyfixer.tools.reconstruct.reconstruct import reconstruct
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)


def local_model_names(comfyui_dir: Path, extra_model_paths: list[Path] | None = None) -> dict[str, list[str]]:
    """Folder key → model names the local ComfyUI's loaders list (static read of its folders)."""
    from comfyfixer.tools.inventory import InventoryInput, build_inventory

    inv = build_inventory(InventoryInput(comfyui_dir=comfyui_dir, extra_model_paths=extra_model_paths or []))
    return {key: sorted(names) for key, names in inv.models.files.items()}


@capability(command="reconstruct")
def reconstruct_workflow(inp: ReconstructInput, ctx: ToolContext, *, out_dir: Path | None = None) -> ReconstructResult:
    """Rebuild the ComfyUI workflow that made an image, and say how sure each part is.

    Give exactly one source: ``image`` (a local PNG/JPEG/WebP path, or a civitai.com image or post
    URL), ``civitai_image_id`` or ``civitai_post_id``. The best evidence wins: a ComfyUI graph
    embedded in the image is returned unchanged; otherwise the generation parameters (A1111, Forge,
    SD.Next, Fooocus, NovelAI, InvokeAI, SwarmUI, Civitai) are turned into a graph from ComfyUI's node
    schemas. The answer lists ``certain`` facts, ``inferred`` parts (what, why, confidence 0..1),
    the ``models`` with hashes and resolver verdicts (RESOLVED / UNCERTAIN / NOT_FOUND), the node
    packs needed, what is missing on the user's ComfyUI, and ``status`` OK / UNCERTAIN / FAILED.
    Tell the user about every inferred part with confidence below 0.5 and every model that is not
    RESOLVED. Nothing is written: the user saves the graphs with
    ``comfyfixer reconstruct IMAGE --out DIR`` (existing files are never overwritten).

    ``out_dir`` (the user's side only, from ``--out``) writes ``<name>.workflow.json`` and
    ``<name>.api.json`` there.
    """
    is_civitai = inp.image is None or inp.image.startswith(("http://", "https://"))
    civitai = ctx.civitai() if (is_civitai or inp.resolve) else None
    resolver = None
    if inp.resolve and civitai is not None:
        from comfyfixer.tools.resolver import DiskCache, ModelResolver

        # Hash and Civitai-version lookups only: reconstruction knows the exact file it wants.
        model_resolver = ctx.memo(f"reconstruct-resolver:{id(civitai)}", lambda: ModelResolver(
            civitai=civitai, cache=DiskCache(ctx.cache_dir / "resolver")))

        def resolver(query: Any) -> Any:
            """The model resolver restricted to the sources that fit ``query`` (see
            ``evidence.resolver_sources``).
            """
            return model_resolver.resolve(query, sources=resolver_sources(query))

    readiness = None
    local = None
    if ctx.comfyui_dir is not None:
        from comfyfixer.tools.readiness import CheckInput, check_workflows

        def readiness(path: Path) -> dict[str, Any]:
            """The local readiness report of one saved workflow file, without its path and name (the caller
            knows them); an "invalid" stub when the check read nothing.
            """
            res = check_workflows(CheckInput(paths=[str(path)]), ctx)
            if not res.workflows:
                return {"status": "invalid", "error": "the readiness check read no workflow"}
            return res.workflows[0].model_dump(mode="json", exclude={"path", "name"})

        local = local_model_names(ctx.comfyui_dir, list(ctx.extra_model_paths))
    result = reconstruct(inp, schemas=ctx.schemas(), civitai=civitai if is_civitai else None, resolver=resolver,
                         readiness=readiness, catalog=ctx.catalog(), local_files=local, out_dir=out_dir)
    if not inp.include_graphs and out_dir is None:
        result.workflow = result.api = None
    return result
