"""The resolver's capabilities: where to download a missing model, which pack provides a node class,
and both for every need of one workflow. The resolvers come from the :class:`ToolContext`.

The docstrings of the three capabilities are the tool descriptions the assistant reads, so they
speak to the model; change them with the eval suite at hand.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.resolver.models import ALL_SOURCES, ModelQuery, NodeQuery, Source, Verdict
from comfyfixer.tools.toolset import capability


@capability(command="resolve")
def resolve_model(inp: ModelQuery, ctx: ToolContext) -> Verdict:
    """Find where to download a model file a workflow needs.

    Give the filename exactly as the workflow writes it (keep any sub-folder), and the folder kind
    (checkpoints, loras, vae, diffusion_models, text_encoders, ...) when known; add a hash or the
    workflow's own URL if you have them. Returns a verdict: RESOLVED (one exact match by name or hash,
    with URL, size, sha256, license and whether a token is needed), UNCERTAIN (ranked candidates with
    reasons for and against each — ask the user before choosing), or NOT_FOUND (with what was searched).
    Never treat an UNCERTAIN candidate as the file the workflow wants without the user's agreement.
    """
    sources = tuple(inp.sources or ALL_SOURCES)
    resolver = ctx.model_resolver(catalogs="catalogs" in sources)
    return resolver.resolve(inp, sources=sources, use_cache=ctx.use_cache)


@capability(command="resolve --node")
def resolve_node(inp: NodeQuery, ctx: ToolContext) -> Verdict:
    """Find which custom node pack provides an unknown node class.

    Give the class_type, and the cnr_id / aux_id the workflow's node properties carry when present.
    Returns RESOLVED (one pack, with its repository URL), UNCERTAIN (several packs claim the class,
    or only similar names exist) or NOT_FOUND.
    """
    return ctx.node_resolver().resolve(inp)


class WorkflowQuery(BaseModel):
    """A workflow whose every model file and custom node class should be resolved."""

    path: str = Field(description="Path of a workflow JSON (UI or API) or an image that embeds one.")
    sources: list[Source] | None = Field(
        None, description="Only consult these sources for models (workflow, hash, catalogs, hf, civitai); default: all."
    )


class WorkflowVerdicts(BaseModel):
    """One verdict per distinct model file and per custom node class of a workflow."""

    workflow: str = Field(description="The workflow file.")
    items: list[Verdict] = Field(description="Model verdicts first, then node-class verdicts.")


@capability(command="resolve --workflow")
def resolve_workflow(inp: WorkflowQuery, ctx: ToolContext) -> WorkflowVerdicts:
    """Resolve everything one workflow needs: a verdict (RESOLVED / UNCERTAIN / NOT_FOUND, with
    candidates and evidence) for each distinct model file it loads and for each custom node class
    ComfyUI itself does not provide. Classes only a newer ComfyUI has are left out (update ComfyUI)."""
    from comfyfixer.tools.workflow.inspect import inspect_source

    path = Path(inp.path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: no such file", hint="give the path of a workflow JSON or an image")
    result = inspect_source(path, catalog=ctx.catalog())
    sources = tuple(inp.sources or ALL_SOURCES)
    out: list[Verdict] = []
    seen: set[tuple[str, str | None]] = set()
    for ref in result.models:
        if (ref.filename, ref.folder) in seen:
            continue
        seen.add((ref.filename, ref.folder))
        hashes = {ref.hash_type or "SHA256": ref.hash} if ref.hash else {}
        query = ModelQuery(filename=ref.filename, folder=ref.folder, hashes=hashes, url_hint=ref.url,
                           sources=list(sources))
        out.append(resolve_model(query, ctx))
    nodes = ctx.node_resolver()
    for finding in result.custom_nodes:
        if finding.status == "CORE_UPDATE":
            continue
        cnr = finding.packs[0].id if len(finding.packs) == 1 else None
        out.append(nodes.resolve(NodeQuery(class_type=finding.class_type, cnr_id=cnr)))
    return WorkflowVerdicts(workflow=str(path), items=out)
