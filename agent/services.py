"""From settings to capabilities: the one place that builds the :class:`ToolContext` and the registry.

Every CLI command and the assistant get their context from :func:`build_context` and their
capabilities from :func:`registry`, so both surfaces reach the same capability with the same
collaborators (schemas, catalogs, clients, resolvers, policy). Flags are applied as settings
overrides before the context is built; nothing else copies settings by hand.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from comfyfixer.agent.config import Settings, load_settings
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.toolset import Registry, tool_registry


def build_context(settings: Settings, **extra: Any) -> ToolContext:
    """The capabilities' view of ``settings``: every field both models share, copied by name, plus
    ``extra`` context-only fields (``use_cache``, ``manager_wheel_dirs``)."""
    shared = ToolContext.model_fields.keys() & Settings.model_fields.keys()
    values = {name: getattr(settings, name) for name in shared}
    values.update(extra)
    return ToolContext(**values)


def context(*, use_cache: bool = True, **overrides: Any) -> tuple[Settings, ToolContext]:
    """Settings with the CLI's flag ``overrides`` (``None`` = not given) and the context built from them."""
    settings = load_settings(**overrides)
    return settings, build_context(settings, use_cache=use_cache)


@cache
def registry() -> Registry:
    """Every capability: the ones in ``tools/`` and those declared on this side (fix plans, RunPod
    jobs, undo plans and snapshots), which need the plan, job and snapshot files kept here."""
    from comfyfixer.agent.node_pack import plan_install_nodes
    from comfyfixer.agent.planning import plan_fix
    from comfyfixer.agent.runpod_jobs import prepare_runpod_job
    from comfyfixer.agent.snapshots import list_snapshots, plan_undo

    return tool_registry(extra=[plan_fix, prepare_runpod_job, plan_undo, list_snapshots, plan_install_nodes])


def run(name: str, args: BaseModel, ctx: ToolContext, **caller_options: Any) -> Any:
    """Run the registered capability ``name`` — the CLI's one call per command (``caller_options``:
    the capability's keyword-only, user-side choices such as where to save)."""
    # Until something needs them all, a tools/ capability runs from a registry of its own: a CLI command
    # then imports one declaration module, not every one (about 0.6 s of each `check` process).
    reg = registry() if registry.cache_info().currsize else (_single(name) or registry())
    return reg.run(name, args, ctx, **caller_options)


@cache
def _single(name: str) -> Registry | None:
    """A registry holding only the tools/ capability ``name`` (registered exactly as :func:`registry`
    registers it), or None when ``name`` is declared elsewhere."""
    import importlib

    from comfyfixer.tools.toolset import CAPABILITY_FUNCTIONS

    for module, func in CAPABILITY_FUNCTIONS:
        if func == name:
            reg = Registry([getattr(importlib.import_module(module), func)])
            return reg if name in reg else None
    return None
