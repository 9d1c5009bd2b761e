"""Typed results of reading an image's generation metadata.

``GenerationInfo`` is what every generator parser fills in. The workflow
reconstructor builds ComfyUI graphs from it, so fields use ComfyUI's vocabulary
where a mapping exists (``sampler_name``/``scheduler``) and keep the writer's raw
wording next to it (``sampler_raw``/``scheduler_raw``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    """A checkpoint, VAE or other model named in the metadata."""

    name: str | None = Field(None, description="Model name or file name as written by the generator.")
    hashes: dict[str, str] = Field(
        default_factory=dict,
        description='Hashes keyed by kind, e.g. {"AutoV2": "0123456789"}; kinds: AutoV1, AutoV2, AutoV3, SHA256, BLAKE3, CRC32, NovelAI, unknown.',
    )


class LoraRef(BaseModel):
    """A LoRA (or LyCORIS/LoCon) applied during generation."""

    name: str = Field(description="LoRA name as written (file stem, file name or site id).")
    weight: float | None = Field(None, description="Model strength (the `<lora:name:weight>` weight).")
    clip_weight: float | None = Field(None, description="CLIP strength when given separately.")
    hashes: dict[str, str] = Field(default_factory=dict, description="Hashes keyed by kind (AutoV2, ...).")


class EmbeddingRef(BaseModel):
    """A textual-inversion embedding used in the prompt."""

    name: str = Field(description="Embedding name.")
    hashes: dict[str, str] = Field(default_factory=dict, description="Hashes keyed by kind.")


class HiresInfo(BaseModel):
    """A1111-style hires fix (second pass)."""

    upscaler: str | None = Field(None, description="Upscaler name, e.g. 'Latent' or '4x-UltraSharp'.")
    scale: float | None = Field(None, description="Upscale factor ('Hires upscale').")
    resize_width: int | None = Field(None, description="Target width when resized to a size instead of scaled.")
    resize_height: int | None = Field(None, description="Target height when resized to a size instead of scaled.")
    steps: int | None = Field(None, description="Hires steps (0/None = same as first pass).")
    denoise: float | None = Field(None, description="Denoising strength of the second pass.")
    cfg: float | None = Field(None, description="Hires CFG scale when set separately.")
    sampler_raw: str | None = Field(None, description="Hires sampler as written, when set separately.")
    scheduler_raw: str | None = Field(None, description="Hires schedule type as written, when set separately.")


class RefinerInfo(BaseModel):
    """SDXL refiner settings."""

    model: ModelInfo | None = Field(None, description="Refiner checkpoint.")
    switch_at: float | None = Field(None, description="Fraction of steps after which the refiner takes over.")


class GenerationInfo(BaseModel):
    """Everything an image says about how it was generated.

    Filled by one generator parser (``generator`` names it, ``generator_confidence`` says how sure the
    detection is) and then by the embedded graphs, which fill what the text left empty. Values are as
    the writer gave them; ``sampler``/``scheduler`` are the ComfyUI names mapped from the raw ones (None
    when there is no equivalent). ``hashes`` keeps every hash under the writer's own key, while
    ``model``/``vae``/``loras`` carry the hashes that belong to them. ``raw`` holds every metadata value
    found (repeated keys as ``key#2``…), so nothing read is lost even when no parser understood it.
    """

    path: str | None = Field(None, description="File the data came from.")
    container: str | None = Field(None, description="Real container by magic bytes: png, jpeg, webp, or None.")
    generator: str | None = Field(None, description="Detected generator (ComfyUI, A1111, Forge, NovelAI, ...); None = no metadata.")
    generator_confidence: float = Field(0.0, description="0..1, how sure the generator detection is.")
    prompt: str | None = Field(None, description="Positive prompt.")
    negative_prompt: str | None = Field(None, description="Negative prompt.")
    seed: int | None = Field(None, description="Seed of the first sampler pass.")
    subseed: int | None = Field(None, description="A1111 variation seed.")
    subseed_strength: float | None = Field(None, description="A1111 variation strength.")
    steps: int | None = Field(None, description="Sampling steps.")
    cfg: float | None = Field(None, description="CFG scale / guidance.")
    sampler_raw: str | None = Field(None, description="Sampler name as written by the generator.")
    scheduler_raw: str | None = Field(None, description="Scheduler / schedule type as written.")
    sampler: str | None = Field(None, description="ComfyUI sampler_name (mapped).")
    scheduler: str | None = Field(None, description="ComfyUI scheduler (mapped).")
    width: int | None = Field(None, description="Generation width (not necessarily the pixel width).")
    height: int | None = Field(None, description="Generation height.")
    denoise: float | None = Field(None, description="Denoising strength (img2img / hires).")
    clip_skip: int | None = Field(None, description="CLIP skip (A1111 convention: 1 = none, 2 = skip last layer).")
    batch_size: int | None = Field(None, description="Batch size.")
    batch_index: int | None = Field(None, description="Position in the batch.")
    model: ModelInfo | None = Field(None, description="Checkpoint / diffusion model.")
    vae: ModelInfo | None = Field(None, description="VAE, when named.")
    hashes: dict[str, str] = Field(default_factory=dict, description="Every hash written, keyed as written (model, vae, lora:x, embed:x).")
    loras: list[LoraRef] = Field(default_factory=list, description="LoRAs with weights and hashes.")
    embeddings: list[EmbeddingRef] = Field(default_factory=list, description="Textual-inversion embeddings.")
    hires: HiresInfo | None = Field(None, description="Hires fix settings.")
    refiner: RefinerInfo | None = Field(None, description="Refiner settings.")
    adetailer: dict[str, str] | None = Field(None, description="ADetailer fields as written (key → value).")
    controlnet: dict[str, str] | None = Field(None, description="ControlNet fields as written (key → value).")
    extra: dict[str, Any] = Field(default_factory=dict, description="Other parsed settings (key → value).")
    workflow: dict[str, Any] | None = Field(None, description="Embedded ComfyUI UI workflow graph.")
    prompt_graph: dict[str, Any] | None = Field(None, description="Embedded ComfyUI API prompt graph.")
    raw: dict[str, Any] = Field(default_factory=dict, description="Raw metadata fields the values came from (key → text).")
    warnings: list[str] = Field(default_factory=list, description="Things that could not be read.")

    @property
    def has_metadata(self) -> bool:
        """A generator was detected (``generator`` is not None), even if it wrote few fields."""
        return self.generator is not None

    @property
    def has_workflow(self) -> bool:
        """An embedded ComfyUI UI workflow was found (in the image or a ``.json`` sidecar)."""
        return self.workflow is not None

    @property
    def has_prompt_graph(self) -> bool:
        """An embedded ComfyUI API prompt was found."""
        return self.prompt_graph is not None


class EmbeddedGraphs(BaseModel):
    """ComfyUI graphs embedded in an image."""

    workflow: dict[str, Any] | None = Field(None, description="UI-format workflow (nodes/links).")
    prompt: dict[str, Any] | None = Field(None, description="API-format prompt (node id → class_type/inputs).")
    container: str = Field(description="png, jpeg or webp.")


class ImageReadResult(BaseModel):
    """One file's outcome in a batch read: info, or an error message."""

    path: str = Field(description="File path.")
    info: GenerationInfo | None = Field(None, description="What was read; None when the file could not be read.")
    error: str | None = Field(None, description="Why the file could not be read.")


class ReadImageInput(BaseModel):
    """Parameters of the read_image_metadata tool."""

    path: str = Field(description="Path of one PNG, JPEG or WebP image file (not a folder).")
    stealth: bool = Field(True, description="Also look for data hidden in the alpha channel (NovelAI / stealth pnginfo).")
