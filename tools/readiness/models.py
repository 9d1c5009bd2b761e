"""Typed input and results of the readiness check."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ReadinessStatus = Literal["runnable", "missing", "invalid"]
NodeStatus = Literal["RESOLVED", "UNCERTAIN", "NOT_FOUND", "CORE_UPDATE", "DISABLED"]


class CheckInput(BaseModel):
    """Which workflows to check. The ComfyUI they are checked against, its schemas and the caches
    come from the context (the user's settings and flags), never from this input."""

    paths: list[str] = Field(description="Workflow files (JSON, or PNG/WebP/JPEG that embed one) or folders (searched recursively).")
    hashes: bool = Field(default=False, description="Compute sha256 of the model files found (cached; slow the first time).")
    exclude: list[str] = Field(default_factory=list, description="Folders below the paths to leave out (e.g. a report folder).")


class PackSuggestion(BaseModel):
    """A custom node pack that would provide a missing class."""

    id: str = Field(description="Registry / ComfyUI-Manager id.")
    reference: str = Field(description="Repository URL.")
    title: str | None = None
    hint_only: bool = Field(default=False, description="Only the workflow's aux_id names this repository (not a catalog).")


class MissingNodeType(BaseModel):
    """A node class the workflow uses that this ComfyUI does not have."""

    class_type: str
    status: NodeStatus = Field(
        description="RESOLVED (one pack provides it), UNCERTAIN (several), NOT_FOUND, CORE_UPDATE (newer ComfyUI), "
        "DISABLED (an installed pack has it but is disabled)."
    )
    packs: list[PackSuggestion] = Field(default_factory=list)
    node_count: int = Field(default=0, description="How many nodes of the workflow use it.")
    reason: str = ""
    fix: str = Field(default="", description="What would fix it, in one sentence.")


class MissingModel(BaseModel):
    """A model file no folder of its loader holds, and that is nowhere else either."""

    filename: str
    folder: str | None = Field(description="Folder key the loader reads (None when unknown).")
    node_ids: list[str] = Field(default_factory=list)
    class_types: list[str] = Field(default_factory=list)
    url: str | None = Field(default=None, description="Download URL the workflow itself gives.")
    catalog_url: str | None = Field(default=None, description="URL from ComfyUI-Manager's model list, when it knows the file.")
    target: str | None = Field(default=None, description="Where to put it so the loader finds it.")
    fix: str = ""


class MisplacedModel(BaseModel):
    """A model file that exists, but where its loader does not look."""

    filename: str
    found_in: str = Field(description="Where it is (relative to ComfyUI, or folder/name for a live server).")
    expected_folder: str | None
    node_ids: list[str] = Field(default_factory=list)
    move_from: str | None = Field(default=None, description="Absolute path of the file found.")
    move_to: str | None = Field(default=None, description="Absolute path it should have.")
    fix: str = ""


class PresentModel(BaseModel):
    filename: str
    folder: str | None
    location: str
    sha256: str | None = None


class WorkflowReadiness(BaseModel):
    """Whether one workflow runs here, and exactly what is missing."""

    path: str
    name: str = Field(default="", description="Short display name (relative to the folder that was checked).")
    status: ReadinessStatus
    format: str | None = None
    missing_models: list[MissingModel] = Field(default_factory=list)
    misplaced_models: list[MisplacedModel] = Field(default_factory=list)
    missing_node_types: list[MissingNodeType] = Field(default_factory=list)
    present_models: list[PresentModel] = Field(default_factory=list)
    node_types: int = Field(default=0, description="Distinct node classes used.")
    error: str | None = Field(default=None, description="Why the workflow is invalid.")
    warnings: list[str] = Field(default_factory=list)
    saved_with: str | None = Field(default=None, description="ComfyUI version the workflow was saved with, if recorded.")
    regression_report: str | None = Field(default=None, description="Stem of the regression report of its latest "
                                          "change since an earlier check (agent/reports/history.py), if any.")


class Summary(BaseModel):
    total: int = 0
    runnable: int = 0
    missing: int = 0
    invalid: int = 0


class CheckResult(BaseModel):
    """The readiness of every workflow checked, plus where the inventory came from."""

    generated_at: str
    inventory: dict[str, Any] = Field(default_factory=dict)
    schema_source: str = ""
    catalog_source: str | None = None
    workflows: list[WorkflowReadiness] = Field(default_factory=list)
    summary: Summary = Field(default_factory=Summary)
    notes: list[str] = Field(default_factory=list, description="Things that apply to the whole check.")
    timings: dict[str, float] = Field(default_factory=dict)
    cache: dict[str, int] = Field(default_factory=dict)
    # Kept out of every dump (check --json, the reports' JSON, the stored answers): only the report writer reads them.
    fits: dict[str, Any] | None = Field(default=None, exclude=True, description=(
        "Workflow path → its VRAM estimate (tools/fit FitReport) when the check was asked to size them "
        "(check_workflows' fit option); workflows that load no model are absent."))
    fit_where: str = Field(default="", exclude=True, description="What the estimates were sized against.")
