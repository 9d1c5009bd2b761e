"""Input and result models of ``identify_model``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Role = Literal["checkpoint", "diffusion_model", "lora", "lycoris", "text_encoder", "vae", "controlnet", "upscaler",
               "clip_vision", "unknown"]


class IdentifyInput(BaseModel):
    """Input of ``identify_model``."""

    model: str = Field(description="A local model file (.safetensors or .gguf), a file name, a Civitai model or "
                                   "version URL, id or AIR (e.g. 'civitai:12345', '@12345' for a version), a Hugging "
                                   "Face or ModelScope repo or file URL, or a SHA256 hash.")


class Candidate(BaseModel):
    """One reading of what the model might be, with its confidence."""

    family: str | None = Field(default=None, description="Family id (sd15, sdxl, sd35, flux, wan, …) or None.")
    role: Role = Field(default="unknown", description="What kind of file it is.")
    confidence: float = Field(default=0.0, ge=0, le=1, description="0..1.")
    why: str = Field(default="", description="The evidence behind this reading.")


class ModelIdentity(BaseModel):
    """What a model is and how sure we are.

    ``status`` is IDENTIFIED when family and role are known with no competing reading, UNCERTAIN when
    readings compete (``candidates`` lists them) or only one of family/role is known, UNKNOWN when
    nothing matched.
    """

    status: Literal["IDENTIFIED", "UNCERTAIN", "UNKNOWN"] = Field(description="How far identification got.")
    source: str = Field(description="What was read: the file header, the file name, Civitai, Hugging Face, …")
    name: str = Field(description="The model's file name (or the given text when there is none).")
    family: str | None = Field(default=None, description="Family id (sd15, sdxl, sd35, flux, wan, hunyuan_video, "
                                                         "ltxv, qwen_image, hidream, …).")
    family_label: str | None = Field(default=None, description="The family's display name.")
    variant: str | None = Field(default=None, description="A finer reading (e.g. 'FLUX.1 dev', 'Wan 2.2 TI2V 5B').")
    role: Role = Field(default="unknown", description="checkpoint, diffusion_model, lora, lycoris, text_encoder, vae, "
                                                      "controlnet, upscaler, clip_vision or unknown.")
    folder: str | None = Field(default=None, description="The ComfyUI model folder such a file goes in.")
    confidence: float = Field(default=0.0, ge=0, le=1, description="0..1 confidence in family and role together.")
    evidence: list[str] = Field(default_factory=list, description="What the verdict rests on (tensor names, shapes, "
                                                                  "metadata, API fields), each with its source.")
    candidates: list[Candidate] = Field(default_factory=list, description="Competing readings when UNCERTAIN.")
    families_using: list[str] = Field(default_factory=list, description="For a VAE or text encoder: the families "
                                                                        "that use such a file.")
    trained_words: list[str] = Field(default_factory=list, description="Trigger words of a LoRA, when known.")
    sha256: str | None = Field(default=None, description="The file's SHA256 when a source gave it.")
    civitai_version_id: int | None = Field(default=None, description="The Civitai model version, when known.")
    base_model: str | None = Field(default=None, description="The base model label a source gave (Civitai "
                                                             "'SDXL 1.0', kohya 'sdxl_base_v1-0', …).")
    tensor_count: int | None = Field(default=None, description="Tensors in the file's header.")

    def kind(self) -> str:
        """Family and role in words: ``Stable Diffusion XL · lora``, ``used by flux, sd35 · vae``,
        ``any family · upscaler``, ``family unknown · role unknown``."""
        family = self.family_label or self.family
        if family is None:
            family = ("used by " + ", ".join(self.families_using) if self.families_using
                      else "any family" if self.role == "upscaler" else "family unknown")
        role = "role unknown" if self.role == "unknown" else self.role.replace("_", " ")
        return f"{family} · {role}"
