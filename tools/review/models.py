"""Typed results of ``review_workflow`` and ``diff_workflows``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Level = Literal["info", "warning", "risk"]


class ReviewInput(BaseModel):
    """Arguments of the ``review_workflow`` capability."""

    path: str = Field(description="Path of a workflow JSON (UI or API) or an image (PNG/WebP/JPEG) that embeds one.")
    object_info: str | None = Field(
        None, description="Node schemas: a saved object_info JSON file or a ComfyUI URL. Default: the configured "
        "ComfyUI's, else the bundled core schemas.")
    readiness: bool = Field(
        True, description="Also check what is missing on the configured ComfyUI (skipped when none is configured).")
    vram_gb: float | None = Field(None, gt=0, le=1024, description="Size the VRAM fit for a card of this many GB "
                                  "(default: this machine's GPU).")


class Finding(BaseModel):
    """One observation: a parameter outside its family's range, a risk, or a note."""

    level: Level = Field(description="info (worth knowing), warning (likely a mistake), risk (may break or mislead).")
    code: str = Field(description="A stable short name, e.g. cfg-range, steps-low, muted-branch, never-saved.")
    message: str
    node_id: str | None = None
    source: str | None = Field(None, description="Knowledge-pack section the advice comes from (doc#heading).")


class ModelRole(BaseModel):
    """A model file the workflow loads and what it is for."""

    filename: str
    folder: str | None = None
    role: str = Field(description="base model, diffusion model, text encoder, VAE, LoRA, ControlNet, upscaler, ...")
    family: str | None = Field(None, description="Family id (see tools/review/families.py), when the name says.")
    precision: str | None = Field(None, description="fp32, fp16, bf16, fp8, int8, GGUF, nf4, fp4 — from the file name.")
    node_id: str = ""
    class_type: str = ""
    active: bool = True
    strength_model: float | None = Field(None, description="LoRA strength on the model, when a LoRA.")
    strength_clip: float | None = Field(None, description="LoRA strength on the text encoder, when given.")


class OutputNode(BaseModel):
    """A node that ends a branch."""

    node_id: str
    class_type: str
    kind: str = Field(description="image, video, audio, 3d, vector or text.")
    saves: bool = Field(description="Writes a file (Save…), rather than only previewing.")
    active: bool = True


class SamplerSetting(BaseModel):
    """The sampling values one node carries (KSampler, BasicScheduler, CFGGuider, RandomNoise, …)."""

    node_id: str
    class_type: str
    values: dict[str, Any] = Field(default_factory=dict)
    seed_control: str | None = Field(None, description="fixed/randomize/increment/decrement (UI workflows only).")


class Resolution(BaseModel):
    """A latent or image size the workflow sets."""

    node_id: str
    class_type: str
    width: int
    height: int
    frames: int | None = None
    batch: int | None = None


class Readiness(BaseModel):
    """What the configured ComfyUI lacks for this workflow (from ``check_workflows``)."""

    checked: bool
    status: str | None = Field(None, description="runnable, missing or invalid.")
    missing_nodes: list[str] = Field(default_factory=list)
    missing_models: list[str] = Field(default_factory=list)
    note: str = ""


class VramFit(BaseModel):
    """The VRAM estimate of ``estimate_fit`` (``tools/fit``), in short."""

    verdict: str = Field(description="FITS, FITS_OFFLOAD, DOES_NOT_FIT, NO_GPU or NO_MODELS.")
    peak_gb: float = Field(description="The largest stage's need in GB (what must fit when ComfyUI offloads).")
    vram_gb: float | None = Field(None, description="The VRAM it was sized against, in GB.")
    summary: str = ""


class WorkflowReview(BaseModel):
    """What a workflow does, with which models and settings, and what may go wrong."""

    path: str
    format: str
    task: str = Field(description="The main task, e.g. text-to-image, image-to-video, inpaint, upscale, text-to-audio.")
    medium: str = Field(description="What the main output is: image, video, audio, 3d, vector, text, or none.")
    techniques: list[str] = Field(default_factory=list,
                                  description="Conditioning and passes: ControlNet, IP-Adapter, LoRA, face detail, ...")
    family: str | None = Field(None, description="The main model family id, when the workflow loads a known model.")
    family_label: str | None = Field(None, description="The family's display name.")
    families: list[str] = Field(default_factory=list, description="Every family the workflow's models belong to.")
    api_nodes: list[str] = Field(default_factory=list, description="Paid API node classes (run remotely, need credits).")
    models: list[ModelRole] = Field(default_factory=list)
    outputs: list[OutputNode] = Field(default_factory=list)
    media_inputs: list[str] = Field(default_factory=list, description="Loaded media: image, video, audio, mask.")
    samplers: list[SamplerSetting] = Field(default_factory=list)
    resolutions: list[Resolution] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    readiness: Readiness = Field(default_factory=lambda: Readiness(checked=False, status=None))
    vram: VramFit | None = Field(None, description="Whether it fits this GPU (or vram_gb), from the fit estimate.")
    summary: str = Field("", description="One sentence: task, family, main settings.")


class DiffInput(BaseModel):
    """Arguments of the ``diff_workflows`` capability."""

    old: str | None = Field(None, description="The earlier workflow: a JSON file (UI or API) or an image that embeds "
                            "one. Omitted: the new workflow's predecessor in the history that check and schedule keep.")
    new: str = Field(description="The later workflow, in either format (a UI file and its API export diff as equal).")
    object_info: str | None = Field(
        None, description="Node schemas for reading UI widgets: a saved object_info JSON file or a ComfyUI URL. "
        "Default: the configured ComfyUI's, else the bundled core schemas.")


class NodeRef(BaseModel):
    """A node by id and class."""

    id: str
    class_type: str


class Rewire(BaseModel):
    """An input of a matched node that now takes its value from elsewhere."""

    node: str = Field(description="The node's id in the new workflow.")
    class_type: str
    input: str
    old_from: str | None = Field(None, description="'<class> (<new id>)' the input came from, or a literal.")
    new_from: str | None = None


class ParamChange(BaseModel):
    """A literal input of a matched node with a different value."""

    node: str = Field(description="The node's id in the new workflow.")
    old_node: str
    class_type: str
    input: str
    old: Any = None
    new: Any = None
    key: bool = Field(False, description="A key parameter (sampler, steps, CFG, size, frames, denoise, LoRA strength, seed).")
    runtime_only: bool = Field(False, description="Differs without meaning anything: a seed the UI re-rolls every "
                               "run, or (UI against API) what the frontend changes when it queues — comments "
                               "stripped from prompts, upload buttons, widgets of classes without a schema.")


class ModelChange(BaseModel):
    """A model file swapped, added or removed."""

    change: Literal["swapped", "added", "removed"]
    node: str
    class_type: str
    input: str | None = None
    old: str | None = None
    new: str | None = None
    old_family: str | None = None
    new_family: str | None = None
    old_precision: str | None = None
    new_precision: str | None = None
    weight_ratio: float | None = Field(None, description="New/old weight size from the precisions (fp16→fp8: 0.5).")
    old_gb: float | None = Field(None, description="The old file's resident weights in GB, when the fit estimate knows.")
    new_gb: float | None = Field(None, description="The new file's, likewise.")
    size_source: str | None = Field(None, description="Where the sizes come from (header, notes, catalog, knowledge, ...).")


class WorkflowDiff(BaseModel):
    """How two versions of a workflow differ, compared as the API prompts ComfyUI would run."""

    old: str
    new: str
    old_format: str
    new_format: str
    equal: bool = Field(description="Same nodes, wiring and values (seeds the UI re-rolls aside).")
    matched: int = 0
    matched_by: dict[str, int] = Field(default_factory=dict, description="How many nodes matched by id, by structure, by type.")
    renumbered: int = Field(0, description="Matched nodes whose id changed.")
    added: list[NodeRef] = Field(default_factory=list)
    removed: list[NodeRef] = Field(default_factory=list)
    rewired: list[Rewire] = Field(default_factory=list)
    parameters: list[ParamChange] = Field(default_factory=list)
    models: list[ModelChange] = Field(default_factory=list)
    old_task: str = ""
    new_task: str = ""
    old_family: str | None = None
    new_family: str | None = None
    old_cost: float | None = Field(None, description="Runtime proxy: Σ steps × pixels × frames over the samplers.")
    new_cost: float | None = None
    runtime_ratio: float | None = Field(None, description="new_cost / old_cost.")
    implications: list[Finding] = Field(default_factory=list,
                                        description="Quality, memory and runtime consequences of the changes.")
    new_findings: list[Finding] = Field(default_factory=list, description="Review findings the new version adds.")
    new_dependencies: list[str] = Field(default_factory=list,
                                        description="Model files and custom node classes only the new version needs.")
    new_missing: list[str] = Field(default_factory=list,
                                   description="Of those, what the configured ComfyUI lacks (when one is configured).")
    old_vram_gb: float | None = Field(None, description="The old version's peak VRAM need (fit estimate), GB.")
    new_vram_gb: float | None = Field(None, description="The new version's peak VRAM need, GB.")
    summary: str = ""
