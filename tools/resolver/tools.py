"""Tool-style entry points for the chat agent (the resolver objects are built by the caller and passed in)."""

from __future__ import annotations

from comfyfixer.tools.resolver.models import ModelQuery, NodeQuery, Verdict
from comfyfixer.tools.resolver.nodes import NodeResolver
from comfyfixer.tools.resolver.strategy import ModelResolver


def resolve_model(inp: ModelQuery, *, resolver: ModelResolver) -> Verdict:
    """Find where to download a model file a workflow needs.

    Give the filename exactly as the workflow writes it (keep any sub-folder), and the folder kind
    (checkpoints, loras, vae, diffusion_models, text_encoders, ...) when known; add a hash or the
    workflow's own URL if you have them. Returns a verdict: RESOLVED (one exact match by name or hash,
    with URL, size, sha256, license and whether a token is needed), UNCERTAIN (ranked candidates with
    reasons for and against each — ask the user before choosing), or NOT_FOUND (with what was searched).
    Never treat an UNCERTAIN candidate as the file the workflow wants without the user's agreement.
    """
    return resolver.resolve(inp)


def resolve_node(inp: NodeQuery, *, resolver: NodeResolver) -> Verdict:
    """Find which custom node pack provides an unknown node class.

    Give the class_type, and the cnr_id / aux_id the workflow's node properties carry when present.
    Returns RESOLVED (one pack, with its repository URL), UNCERTAIN (several packs claim the class,
    or only similar names exist) or NOT_FOUND.
    """
    return resolver.resolve(inp)
