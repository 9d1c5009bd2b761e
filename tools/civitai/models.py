"""Typed shapes of Civitai's REST API v1 answers (lenient: fields appear, vanish and change type over time).

Every model ignores unknown fields, reads Civitai's camelCase through aliases, and turns ``null`` lists
into empty ones, so a change on Civitai's side degrades a field to None instead of failing a whole
lookup. Only the fields we use are declared.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from comfyfixer.tools.civitai.hashes import HashKind


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class FileMetadata(_Lenient):
    """A file's variant as Civitai labels it: ``format`` ("SafeTensor", "PickleTensor"…), ``size``
    ("pruned"/"full") and ``fp`` ("fp16"/"fp32"/…); each None when not given.
    """
    format: str | None = None
    size: str | None = None
    fp: str | None = None


class ModelFile(_Lenient):
    """One file of a model version; ``name`` is the name workflows use (the download may be renamed).

    ``hashes`` maps a kind name ("SHA256", "AutoV2", …, as Civitai spells it) to its hex value; empty values
    are dropped. ``type`` is "Model", "VAE", "Config", "Training Data"…; ``primary`` marks the file the plain
    download URL serves. ``pickle_scan_result``/``virus_scan_result`` are Civitai's own scan verdicts
    ("Success", "Danger"…); nothing relies on them: the download engine checks pickles itself.
    """

    id: int | None = None
    name: str
    type: str | None = None
    size_kb: float | None = Field(None, alias="sizeKB")
    metadata: FileMetadata = Field(default_factory=lambda: FileMetadata.model_validate({}))
    hashes: dict[str, str] = Field(default_factory=dict)
    download_url: str | None = Field(None, alias="downloadUrl")
    primary: bool = False
    pickle_scan_result: str | None = Field(None, alias="pickleScanResult")
    virus_scan_result: str | None = Field(None, alias="virusScanResult")

    @field_validator("metadata", mode="before")
    @classmethod
    def _none_meta(cls, v: Any) -> Any:
        return v or {}

    @field_validator("hashes", mode="before")
    @classmethod
    def _hash_case(cls, v: Any) -> Any:
        return {str(k): str(h) for k, h in (v or {}).items() if h}

    @property
    def size_bytes(self) -> int | None:
        """Approximate: Civitai stores KiB as a float."""
        return round(self.size_kb * 1024) if self.size_kb is not None else None

    @property
    def sha256(self) -> str | None:
        """The SHA256 in lower case, or None when Civitai lists none."""
        h = self.hashes.get("SHA256")
        return h.lower() if h else None

    def hash_of(self, kind: HashKind) -> str | None:
        """This file's hash of ``kind`` in lower case, or None; the key is matched case-insensitively."""
        for k, v in self.hashes.items():
            if k.lower() == kind.value.lower():
                return v.lower()
        return None


class VersionModelRef(_Lenient):
    """The parent model as nested in a version answer: name, type, flags and ``mode`` ("Archived",
    "TakenDown" or None).
    """
    name: str | None = None
    type: str | None = None
    nsfw: bool | None = None
    poi: bool | None = None
    mode: str | None = None


class ModelVersion(_Lenient):
    """A model version, as nested in ``/models`` or returned by ``/model-versions/{id}`` and by-hash.

    ``base_model`` is Civitai's label ("SDXL 1.0", "Flux.1 D", "Pony"…), compared by the resolver with the
    base model a workflow implies. ``early_access_ends_at`` is an ISO date or None. ``trained_words`` are the
    trigger words of a LoRA or embedding. ``air`` is Civitai's resource identifier (``urn:air:…``). ``model``
    is only present in answers about a single version.
    """

    id: int
    model_id: int | None = Field(None, alias="modelId")
    name: str | None = None
    base_model: str | None = Field(None, alias="baseModel")
    base_model_type: str | None = Field(None, alias="baseModelType")
    status: str | None = None
    availability: str | None = None
    early_access_ends_at: str | None = Field(None, alias="earlyAccessEndsAt")
    trained_words: list[str] = Field(default_factory=list, alias="trainedWords")
    download_url: str | None = Field(None, alias="downloadUrl")
    files: list[ModelFile] = Field(default_factory=list)
    model: VersionModelRef | None = None
    stats: dict[str, Any] = Field(default_factory=dict)
    air: str | None = None

    @field_validator("trained_words", "files", mode="before")
    @classmethod
    def _none_list(cls, v: Any) -> Any:
        return v or []


def _tags(v: Any) -> list[str]:
    out: list[str] = []
    for t in v or []:
        if isinstance(t, dict):
            if t.get("name"):
                out.append(str(t["name"]))
        else:
            out.append(str(t))
    return out


class Creator(_Lenient):
    """The uploader; only the username is kept."""
    username: str | None = None


class Model(_Lenient):
    """A model with its published versions (``/models`` item or ``/models/{id}``).

    ``type`` is "Checkpoint", "LORA", "TextualInversion", "VAE", "Controlnet"…; ``mode`` is None for a
    healthy model. The ``allow_*`` fields are Civitai's permission flags (see :meth:`license_summary`);
    ``allow_commercial_use`` arrives as a list, or as a ``{a,b}`` string in older answers. ``tags`` are
    names, whichever shape Civitai sent them in.
    """

    id: int
    name: str
    type: str | None = None
    nsfw: bool | None = None
    mode: str | None = None  # "Archived" | "TakenDown" when not healthy
    availability: str | None = None
    allow_commercial_use: str | list[str] | None = Field(None, alias="allowCommercialUse")
    allow_derivatives: bool | None = Field(None, alias="allowDerivatives")
    allow_no_credit: bool | None = Field(None, alias="allowNoCredit")
    stats: dict[str, Any] = Field(default_factory=dict)
    creator: Creator | None = None
    tags: list[str] = Field(default_factory=list)
    model_versions: list[ModelVersion] = Field(default_factory=list, alias="modelVersions")

    @field_validator("tags", mode="before")
    @classmethod
    def _norm_tags(cls, v: Any) -> Any:
        return _tags(v)

    @field_validator("model_versions", mode="before")
    @classmethod
    def _none_versions(cls, v: Any) -> Any:
        return v or []

    @property
    def download_count(self) -> int:
        """``stats.downloadCount``, 0 when absent; used to rank search hits."""
        return int(self.stats.get("downloadCount") or 0)

    def license_summary(self) -> str:
        """A short human summary of the permissions flags (Civitai has no SPDX license)."""
        use = self.allow_commercial_use
        if isinstance(use, str):
            use = [u for u in use.strip("{}").split(",") if u]
        parts = [f"commercial use: {', '.join(use) if use else 'none'}"]
        if self.allow_derivatives is not None:
            parts.append("derivatives allowed" if self.allow_derivatives else "no derivatives")
        if self.allow_no_credit is False:
            parts.append("credit required")
        return "Civitai permissions (" + "; ".join(parts) + ")"


class PageMetadata(_Lenient):
    """Pagination info of a list answer; the client follows ``next_cursor`` and ignores ``next_page``."""
    next_cursor: str | int | None = Field(None, alias="nextCursor")
    next_page: str | None = Field(None, alias="nextPage")
    total_items: int | None = Field(None, alias="totalItems")


class ModelPage(_Lenient):
    """One page of ``/api/v1/models``."""
    items: list[Model] = Field(default_factory=list)
    metadata: PageMetadata = Field(default_factory=lambda: PageMetadata.model_validate({}))


class Image(_Lenient):
    """One ``/images`` item. ``meta.comfy`` arrives as a JSON string: see :attr:`comfy`.

    ``meta`` is the generation data Civitai parsed from the upload (prompt, sampler, seed, resources…) and
    is None when the uploader hid it.
    """

    id: int
    url: str | None = None
    width: int | None = None
    height: int | None = None
    nsfw_level: str | int | None = Field(None, alias="nsfwLevel")
    post_id: int | None = Field(None, alias="postId")
    username: str | None = None
    base_model: str | None = Field(None, alias="baseModel")
    model_version_ids: list[int] = Field(default_factory=list, alias="modelVersionIds")
    meta: dict[str, Any] | None = None
    stats: dict[str, Any] = Field(default_factory=dict)  # reaction counts (likeCount, heartCount, …)

    @property
    def comfy(self) -> dict[str, Any] | None:
        """``meta.comfy`` decoded (``{prompt, workflow?}``); None when absent or malformed."""
        raw = (self.meta or {}).get("comfy")
        if isinstance(raw, dict):
            return raw
        if isinstance(raw, str):
            try:
                val = json.loads(raw)
            except ValueError:
                return None
            return val if isinstance(val, dict) else None
        return None


class ImagePage(_Lenient):
    """One page of ``/api/v1/images``."""
    items: list[Image] = Field(default_factory=list)
    metadata: PageMetadata = Field(default_factory=lambda: PageMetadata.model_validate({}))
