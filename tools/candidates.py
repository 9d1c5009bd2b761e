"""The one download-candidate model, shared by the catalogs, the resolver and fix plans.

A :class:`DownloadCandidate` is "this file (or node pack) can come from this URL", with whatever the
source said about it. The catalog index stores its entries as candidates, the resolver ranks and
annotates them (score, reasons, hashes, token needs), and a fix plan keeps the chosen and the
alternative ones — so a fact learnt at one stage (a sha256, a gated repository, a licence) reaches
the approval screen without being copied field by field into another model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator


class DownloadCandidate(BaseModel):
    """A place to get a model file (or a node pack) from, with the reasons for and against it."""

    source: str = Field(description="workflow | civitai-hash | catalog:manager | catalog:templates | catalog:notes | "
                                    "hf | civitai | registry | core | pack:<id>")
    url: str = Field(description="Download URL (or the pack's repository).")
    filename: str | None = Field(None, description="The file's name at the source.")
    size: int | None = Field(None, description="Bytes, when the source says exactly.")
    size_label: str | None = Field(None, description="A rounded size a catalog prints, e.g. '2.0GB'.")
    sha256: str | None = Field(None, description="Lower-case hex, when the source says.")
    score: float = Field(0.0, description="0..1 resolver confidence; 1.0 means exact name or hash.")
    exact: bool = Field(False, description="Exact filename or hash match.")
    reasons: list[str] = Field(default_factory=list, description="'+ ...' for, '- ...' against.")
    needs_token: bool = Field(False, description="The source needs an access token.")
    gated: bool = Field(False, description="A gated repository (its licence must be accepted online).")
    license: str | None = Field(None, description="Licence id or name, when known.")
    repo: str | None = Field(None, description="HF repo id, Civitai model id, or pack repository.")
    path: str | None = Field(None, description="Path inside the repo.")
    folder: str | None = Field(None, description="Folder kind the source files it under, when it says.")
    subfolder: str | None = Field(None, description="Sub-folder below the folder kind, when the catalog sets one.")
    base_model: str | None = Field(None, description="Base model the source names (SDXL, Flux.1 D, ...).")
    name: str | None = Field(None, description="The source's display name for the model.")
    downloads: int | None = Field(None, description="Download count, when the source says.")
    origin: str | None = Field(None, description="Which catalog file or template said so.")
    note: str = Field("", description="A short remark for the user (plans: why this one; packs: the pinned commit).")

    @field_validator("score", mode="before")
    @classmethod
    def _unscored(cls, value: Any) -> Any:
        # Plan files written before the models were merged say ``"score": null`` for unscored sources.
        return 0.0 if value is None else value
