"""Resolver: missing model references and unknown node classes → verdicts with candidates and evidence."""

from comfyfixer.tools.resolver.cache import DiskCache, NullCache
from comfyfixer.tools.resolver.models import (
    ALL_SOURCES,
    Candidate,
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
    "Candidate",
    "DiskCache",
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
