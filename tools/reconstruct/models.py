"""Typed inputs and results of workflow reconstruction.

``ReconstructResult`` is both the capability's answer to the assistant and what the CLI prints (via
:meth:`ReconstructResult.summary`), so field descriptions are written for both readers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Method = Literal["embedded", "parameters", "civitai"]
ReconstructStatus = Literal["OK", "UNCERTAIN", "FAILED"]


class ReconstructInput(BaseModel):
    """What to rebuild a ComfyUI workflow from: exactly one of the four sources."""

    image: str | None = Field(
        None, description="Path of a local PNG/JPEG/WebP image, or a civitai.com image or post URL."
    )
    civitai_image_id: int | None = Field(None, description="A Civitai image id (the number in civitai.com/images/ID).")
    civitai_post_id: int | None = Field(None, description="A Civitai post id (the number in civitai.com/posts/ID).")
    name: str | None = Field(None, description="A name for the rebuilt workflow (default: the image's name).")
    resolve: bool = Field(True, description="Look the models up by hash and name on Civitai and Hugging Face.")
    include_graphs: bool = Field(
        False, description="Return the rebuilt UI workflow and API graph themselves (large); default: the report only."
    )


class Inferred(BaseModel):
    """A part of the workflow that the evidence does not state outright."""

    what: str = Field(description="The part of the workflow, e.g. 'node 3 KSampler.scheduler' or 'ADetailer'.")
    why: str = Field(description="The evidence or default it was taken from.")
    confidence: float = Field(description="0..1: how likely the part matches what produced the image.")


class ValidationIssue(BaseModel):
    """One problem of an API graph against the node schemas.

    ``input`` is the input concerned (None for node-level problems such as an unknown class); ``message``
    is a plain sentence naming the input and the offending value.
    """

    node_id: str
    class_type: str
    input: str | None = None
    kind: str = Field(
        description="unknown_class, missing_required, bad_link, link_type, bad_type, out_of_range, not_in_list"
    )
    message: str


class ModelNeed(BaseModel):
    """A model-file (or LoadImage input) combo whose value is not in the schema's listing: the file must be
    installed.
    """

    node_id: str
    class_type: str
    input: str
    folder: str | None = Field(None, description="ComfyUI model folder key (checkpoints, loras, vae, ...).")
    file: str = Field(description="The file name the graph asks for.")


class ValidationReport(BaseModel):
    """Result of validating an API graph against node schemas.

    ``errors`` are what would make ComfyUI refuse the prompt; ``needs_models`` are files to install, not
    errors (see ``validate.py``).
    """

    errors: list[ValidationIssue] = []
    needs_models: list[ModelNeed] = []
    unknown_classes: list[str] = Field(default_factory=list, description="class_types the schemas do not know.")

    @property
    def ok(self) -> bool:
        """No errors (files still to install do not count)."""
        return not self.errors


class ModelVerdict(BaseModel):
    """Identity of one model the workflow needs, as the resolver (or the evidence alone) says."""

    role: str = Field(description="checkpoint, diffusion_model, lora, embedding, vae, text_encoder, upscaler, refiner")
    name: str | None = Field(None, description="Name as the evidence writes it.")
    file: str | None = Field(None, description="File name used in the workflow.")
    folder: str | None = Field(None, description="ComfyUI model folder key.")
    hashes: dict[str, str] = Field(default_factory=dict, description="Hashes from the evidence, keyed by kind.")
    model_version_id: int | None = Field(None, description="Civitai model-version id when known.")
    weight: float | None = Field(None, description="LoRA strength, when a LoRA.")
    verdict: Literal["RESOLVED", "UNCERTAIN", "NOT_FOUND", "UNRESOLVED"] = Field(
        "UNRESOLVED", description="Resolver verdict; UNRESOLVED = no resolver was consulted."
    )
    source: str | None = Field(None, description="Where the file can be downloaded, when resolved.")
    detail: dict[str, Any] = Field(default_factory=dict, description="The resolver's own answer, as given.")


class CustomNodeNeed(BaseModel):
    """A node pack the workflow (or an optional part of it) needs.

    ``reason`` says what the pack is for when it is optional (for example "ADetailer face/hand fix").
    """

    pack: str = Field(description="Pack name or repository.")
    classes: list[str] = Field(default_factory=list, description="Node classes it provides to this workflow.")
    optional: bool = Field(False, description="True when only an optional, uncertain part needs it.")
    reason: str | None = None


class ReconstructResult(BaseModel):
    """A rebuilt workflow, what is certain and what is inferred, and what is still needed to run it.

    ``status`` is OK (embedded graph, or no guess below 0.5 and no model NOT_FOUND or UNCERTAIN), UNCERTAIN (a
    guess below 0.5, a model not identified, or a validation error other than an unknown class) or FAILED (no
    usable evidence). ``workflow``/``api`` are left out of the capability's answer unless ``include_graphs``
    was asked, to keep the model's context small.
    """

    source: str = Field(description="What was reconstructed (path, URL or Civitai id).")
    method: Method | None = Field(None, description="embedded | parameters | civitai; None when nothing was found.")
    certain: list[str] = Field(default_factory=list, description="Facts taken verbatim from the evidence.")
    inferred: list[Inferred] = Field(default_factory=list, description="Parts filled in by rule or default.")
    models: list[ModelVerdict] = Field(default_factory=list, description="Models needed, with resolver verdicts.")
    custom_nodes: list[CustomNodeNeed] = Field(default_factory=list, description="Node packs needed.")
    readiness: dict[str, Any] | None = Field(None, description="The readiness check's report (with --comfyui).")
    status: ReconstructStatus = "FAILED"
    validation: ValidationReport | None = Field(None, description="The API graph checked against node schemas.")
    files: list[str] = Field(default_factory=list, description="Files written.")
    notes: list[str] = Field(default_factory=list, description="Other things the user should know.")
    workflow: dict[str, Any] | None = Field(None, description="UI-format workflow (ComfyUI can open it).", repr=False)
    api: dict[str, Any] | None = Field(None, description="API-format prompt.", repr=False)

    def summary(self) -> dict[str, Any]:
        """The report without the two graphs (what the CLI prints)."""
        return self.model_dump(mode="json", exclude={"workflow", "api"})
