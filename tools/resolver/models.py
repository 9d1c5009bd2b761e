"""Inputs and verdicts of the resolver (pydantic: their JSON schemas are the chat agent's tool schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

ALL_SOURCES = ("workflow", "hash", "catalogs", "hf", "civitai")
Source = Literal["workflow", "hash", "catalogs", "hf", "civitai"]


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
    RESOLVED = "RESOLVED"
    UNCERTAIN = "UNCERTAIN"
    NOT_FOUND = "NOT_FOUND"


class Candidate(BaseModel):
    """A place to get the file (or node pack) from, with the reasons for and against it."""

    source: str = Field(description="workflow | civitai-hash | catalog:manager | catalog:templates | hf | civitai | registry | core")
    url: str
    filename: str = Field(description="The file's name at the source.")
    size: int | None = Field(None, description="Bytes, when the source says.")
    sha256: str | None = Field(None, description="Lower-case hex, when the source says.")
    score: float = Field(description="0..1; 1.0 means exact name or hash.")
    reasons: list[str] = Field(default_factory=list, description="'+ ...' for, '- ...' against.")
    needs_token: bool = False
    gated: bool = False
    license: str | None = None
    repo: str | None = Field(None, description="HF repo id, Civitai model id, or pack repository.")
    path: str | None = Field(None, description="Path inside the repo.")
    folder: str | None = Field(None, description="Folder kind the source files it under, when it says.")
    base_model: str | None = None
    downloads: int | None = None
    exact: bool = Field(False, description="Exact filename or hash match.")


class Evidence(BaseModel):
    """Which source said what (kept for reports and for the agent's explanations)."""

    source: str
    said: str


def _now() -> datetime:
    return datetime.now(UTC)


class Verdict(BaseModel):
    """The resolver's answer for one query."""

    query: str
    kind: str = Field("model", description="model | node")
    status: ResolveStatus
    candidates: list[Candidate] = Field(default_factory=list)
    searched: list[str] = Field(default_factory=list, description="Every source and query consulted.")
    evidence: list[Evidence] = Field(default_factory=list)
    folder: str | None = None
    checked_at: datetime = Field(default_factory=_now, description="When the sources were asked (kept through the cache).")
    from_cache: bool = False

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def age_seconds(self, now: datetime | None = None) -> float:
        return ((now or _now()) - self.checked_at).total_seconds()
