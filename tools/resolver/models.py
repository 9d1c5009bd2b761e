"""Inputs and verdicts of the resolver (pydantic: their JSON schemas are the chat agent's tool schemas).

``DownloadCandidate`` lives in ``tools/candidates.py`` and is re-exported here, because catalogs and
plans use it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from comfyfixer.tools.candidates import DownloadCandidate

ALL_SOURCES = ("workflow", "hash", "catalogs", "hf", "modelscope", "civitai")
Source = Literal["workflow", "hash", "catalogs", "hf", "modelscope", "civitai"]


class ModelQuery(BaseModel):
    """A model file a workflow needs and the machine does not have."""

    filename: str = Field(description="The name the workflow uses, sub-folder kept with '/', e.g. 'SDXL/foo.safetensors'.")
    folder: str | None = Field(None, description="ComfyUI folder kind: checkpoints, loras, vae, diffusion_models, text_encoders, ...")
    hashes: dict[str, str] = Field(default_factory=dict, description="Known hashes by kind (SHA256, AutoV2, BLAKE3, ...).")
    url_hint: str | None = Field(None, description="A download URL the workflow itself carries (properties.models).")
    base_model_hint: str | None = Field(None, description="Base model if known: 'SD1.5', 'SDXL', 'Flux.1 D', ...")
    sources: list[Source] | None = Field(
        None, description="Only consult these sources (workflow, hash, catalogs, hf, civitai); default: all."
    )

    def key(self) -> str:
        """The cache key of the question itself (which sources answer it is keyed separately)."""
        return self.model_dump_json(exclude={"sources"})


class NodeQuery(BaseModel):
    """A node class the local ComfyUI does not know."""

    class_type: str = Field(description="The node's class_type, e.g. 'IPAdapterAdvanced'.")
    cnr_id: str | None = Field(None, description="Comfy registry id from the node's properties, when present.")
    aux_id: str | None = Field(None, description="'owner/repo' GitHub id from the node's properties, when present.")


class ResolveStatus(StrEnum):
    """RESOLVED (one file or pack, exact), UNCERTAIN (candidates for the user to choose from) or NOT_FOUND."""
    RESOLVED = "RESOLVED"
    UNCERTAIN = "UNCERTAIN"
    NOT_FOUND = "NOT_FOUND"


class Evidence(BaseModel):
    """Which source said what (kept for reports and for the agent's explanations).

    ``source`` is a stage or source name (``hf``, ``civitai``, ``catalog:manager``, ``notes``, ``resolver``…)
    and ``said`` one plain sentence.
    """

    source: str
    said: str


def _now() -> datetime:
    return datetime.now(UTC)


class Verdict(BaseModel):
    """The resolver's answer for one query.

    ``query`` is the filename or class type asked about; ``kind`` says which. ``candidates`` are best first:
    for RESOLVED the first is the answer and the rest are mirrors or alternatives. ``folder`` repeats the
    query's folder kind. ``from_cache`` is True when this verdict was read back from the cache, in which case
    ``checked_at`` is still the time the sources were really asked.
    """

    query: str
    kind: str = Field("model", description="model | node")
    status: ResolveStatus
    candidates: list[DownloadCandidate] = Field(default_factory=list)
    searched: list[str] = Field(default_factory=list, description="Every source and query consulted.")
    evidence: list[Evidence] = Field(default_factory=list)
    folder: str | None = None
    checked_at: datetime = Field(default_factory=_now, description="When the sources were asked (kept through the cache).")
    from_cache: bool = False

    @property
    def best(self) -> DownloadCandidate | None:
        """The first candidate, or None."""
        return self.candidates[0] if self.candidates else None

    def age_seconds(self, now: datetime | None = None) -> float:
        """Seconds since the sources were asked (``now`` defaults to the current UTC time)."""
        return ((now or _now()) - self.checked_at).total_seconds()
