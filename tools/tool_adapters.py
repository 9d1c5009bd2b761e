"""Thin tool-shaped wrappers around the project's capabilities, for :func:`default_toolset`.

Each capability keeps its own natural signature (schemas, catalogs and clients passed in); the
wrappers here build those collaborators from the :class:`ToolContext` (memoised per context) and
reuse the capability's docstring as the tool description, so there is one description to maintain.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError, create_model

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ConfigError, InputError
from comfyfixer.tools.toolset import ToolSpec

log = logging.getLogger(__name__)


# --- shared collaborators -------------------------------------------------------------
def schemas_for(ctx: ToolContext, source: str | None = None) -> Any:
    """Node schemas: an explicit object_info file/URL, else the context's, else the bundled core set."""
    from comfyfixer.tools.schema.loader import bundled_core_schemas, load_schemas

    src = source or (str(ctx.object_info_file) if ctx.object_info_file else None) or ctx.comfyui_url
    if src is None:
        return bundled_core_schemas()
    return ctx.memo(f"schemas:{src}", lambda: load_schemas(src))


def catalog_for(ctx: ToolContext) -> Any:
    """ComfyUI-Manager's catalogs, or None when none can be found (tools then say less, not fail)."""
    from comfyfixer.tools.catalogs import load_cached_manager_catalog

    def load() -> Any:
        try:
            return load_cached_manager_catalog(ctx.cache_dir, ctx.manager_catalog_dir, ctx.manager_wheel_dirs)
        except ConfigError:
            log.info("no ComfyUI-Manager catalogs; node packs will not be identified")
            return None

    # Keyed by where it is read from: a copied context shares the memo but may point elsewhere.
    return ctx.memo(f"manager-catalog:{ctx.manager_catalog_dir}:{ctx.manager_wheel_dirs}:{ctx.cache_dir}", load)


def _doc(func: Any) -> str:
    return inspect.getdoc(func) or ""


# --- inspect ----------------------------------------------------------------------------
def inspect_spec() -> ToolSpec:
    from comfyfixer.tools.workflow import InspectInput, InspectionResult, inspect_workflow

    def run(args: BaseModel, ctx: ToolContext) -> BaseModel:
        assert isinstance(args, InspectInput)
        path = Path(args.path).expanduser()
        return inspect_workflow(path, schemas=schemas_for(ctx, args.object_info), catalog=catalog_for(ctx))

    return ToolSpec("inspect_workflow", _doc(inspect_workflow), InspectInput, InspectionResult, run)


# --- readiness ----------------------------------------------------------------------------
def readiness_spec() -> ToolSpec:
    from comfyfixer.tools.readiness import CheckInput, CheckResult, check_workflows

    def run(args: BaseModel, ctx: ToolContext) -> BaseModel:
        assert isinstance(args, CheckInput)
        filled = args.model_copy(update={
            "comfyui_dir": args.comfyui_dir or ctx.comfyui_dir,
            "comfyui_url": args.comfyui_url or ctx.comfyui_url,
            "object_info_file": args.object_info_file or ctx.object_info_file,
            "extra_model_paths": args.extra_model_paths or list(ctx.extra_model_paths),
            "cache_dir": args.cache_dir or ctx.cache_dir / "inventory",
        })
        if filled.comfyui_dir is None and filled.comfyui_url is None:
            raise ConfigError("no local ComfyUI is configured",
                              hint="the user sets COMFYFIXER_COMFYUI_DIR or COMFYFIXER_COMFYUI_URL")
        return check_workflows(filled, catalog=catalog_for(ctx))

    return ToolSpec("check_readiness", _doc(check_workflows), CheckInput, CheckResult, run)


# --- resolver ----------------------------------------------------------------------------
def resolve_specs() -> list[ToolSpec]:
    from comfyfixer.tools.resolver import (
        ModelQuery,
        NodeQuery,
        NodeResolver,
        Verdict,
        resolve_model,
        resolve_node,
    )

    def run_model(args: BaseModel, ctx: ToolContext) -> BaseModel:
        assert isinstance(args, ModelQuery)
        resolver = _model_resolver(ctx)
        try:
            return resolve_model(args, resolver=resolver)
        finally:
            for client in (resolver.hf, resolver.civitai):
                if client is not None:
                    client.close()

    def run_node(args: BaseModel, ctx: ToolContext) -> BaseModel:
        from comfyfixer.tools.comfy_registry import ComfyRegistryClient

        assert isinstance(args, NodeQuery)
        registry = None if ctx.offline else ComfyRegistryClient(
            ctx.comfy_registry_url, timeout=ctx.http_timeout, retries=ctx.http_retries)
        try:
            return resolve_node(args, resolver=NodeResolver(catalog_for(ctx), registry))
        finally:
            if registry is not None:
                registry.close()

    return [
        ToolSpec("resolve_model", _doc(resolve_model), ModelQuery, Verdict, run_model),
        ToolSpec("resolve_node", _doc(resolve_node), NodeQuery, Verdict, run_node),
    ]


def _model_resolver(ctx: ToolContext) -> Any:
    from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs
    from comfyfixer.tools.civitai import CivitaiClient
    from comfyfixer.tools.huggingface import HuggingFaceClient
    from comfyfixer.tools.resolver import DiskCache, ModelResolver

    catalog = catalog_for(ctx)
    index = ctx.memo(f"model-index:{id(catalog)}", lambda: build_model_index(catalog, find_template_dirs()))
    hf = HuggingFaceClient(endpoint=ctx.hf_endpoint, token=ctx.secret("hf_token"), timeout=ctx.http_timeout,
                           retries=ctx.http_retries, offline=ctx.offline)
    civitai = None if ctx.offline else CivitaiClient(base_url=ctx.civitai_base_url, token=ctx.secret("civitai_token"),
                                                      timeout=ctx.http_timeout, retries=ctx.http_retries)
    return ModelResolver(index=index, hf=hf, civitai=civitai, cache=DiskCache(ctx.cache_dir / "resolver"))


# --- image metadata and reconstruction ------------------------------------------------------
def image_metadata_spec() -> ToolSpec:
    from comfyfixer.tools.imagemeta.reader import read_image_metadata

    return ToolSpec.from_function(read_image_metadata)


def reconstruct_spec() -> ToolSpec:
    """The read-only reconstruction: it reports but never writes files (saving is the user's step,
    ``comfyfixer reconstruct IMAGE --out DIR``), so the model can run it freely."""
    from comfyfixer.tools.reconstruct.models import ReconstructInput, ReconstructResult
    from comfyfixer.tools.reconstruct.tool import reconstruct_workflow

    fields: dict[str, Any] = {
        name: (f.annotation, f) for name, f in ReconstructInput.model_fields.items() if name != "out_dir"
    }
    preview_input: type[BaseModel] = create_model(
        "ReconstructPreviewInput", __doc__="Arguments of reconstruct_workflow (report only).", **fields
    )

    def run(args: BaseModel, ctx: ToolContext) -> BaseModel:
        try:
            full = ReconstructInput.model_validate(args.model_dump())
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise InputError(f"invalid arguments: {first['msg']}", hint="give exactly one image source") from None
        return reconstruct_workflow(full, ctx)

    description = _doc(reconstruct_workflow) + (
        "\n\nIn this conversation the graphs are never written: tell the user to run "
        "`comfyfixer reconstruct IMAGE --out DIR` to save them."
    )
    return ToolSpec("reconstruct_workflow", description, preview_input, ReconstructResult, run)
