"""Resolver: missing model references and unknown node classes → verdicts with candidates and evidence.

Two resolvers, both built by ``ToolContext`` with their clients, catalogs and cache injected:
:class:`ModelResolver` (``strategy.py``, with its Hugging Face and Civitai stages as mixins) for model
files, and :class:`NodeResolver` (``nodes.py``) for node classes. The capabilities in ``tools.py``
(``resolve_model``, ``resolve_node``, ``resolve_workflow``) are what the CLI and the assistant call;
``agent/planning.py`` turns their verdicts into plan inputs.

The rule every stage keeps: RESOLVED only for an exact filename or hash match that nothing
contradicts; a similar name is at best an UNCERTAIN candidate with its reasons listed, because
guessing a model file silently would make a workflow run with the wrong weights.
"""

from comfyfixer.tools.resolver.cache import DiskCache, NullCache
from comfyfixer.tools.resolver.models import (
    ALL_SOURCES,
    DownloadCandidate,
    Evidence,
    ModelQuery,
    NodeQuery,
    ResolveStatus,
    Verdict,
)
from comfyfixer.tools.resolver.nodes import NodeResolver
from comfyfixer.tools.resolver.strategy import ModelResolver, ResolverConfig
from comfyfixer.tools.resolver.tools import resolve_model, resolve_node

__all__ = [
    "ALL_SOURCES",
    "DiskCache",
    "DownloadCandidate",
    "Evidence",
    "ModelQuery",
    "ModelResolver",
    "NodeQuery",
    "NodeResolver",
    "NullCache",
    "ResolveStatus",
    "ResolverConfig",
    "Verdict",
    "resolve_model",
    "resolve_node",
]
