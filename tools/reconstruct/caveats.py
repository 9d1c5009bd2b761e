"""What a generator did that core ComfyUI cannot rebuild: flagged notes, optional packs, caveats.

ADetailer, ControlNet without its control image and variation seeds become Note nodes in the UI
workflow (never API nodes: they would need packs the user may not have), each flagged UNCERTAIN
with the node packs that would do the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from comfyfixer.tools.reconstruct.graph_builder import Note
from comfyfixer.tools.reconstruct.models import CustomNodeNeed

# Writers whose seeds and prompt weights follow AUTOMATIC1111's conventions.
WEBUI_GENERATORS = frozenset({"a1111", "forge", "reforge", "civitai"})

if TYPE_CHECKING:
    from comfyfixer.tools.reconstruct.from_parameters import _Builder as Builder


def generator_caveats(b: Builder) -> None:
    """What a generator did beyond the fields we rebuilt, said once per kind.

    WebUI-family images: GPU noise (ComfyUI draws noise on the CPU, so the same seed gives another image)
    and ENSD. Fooocus: styles, prompt expansion and its sampling patches. NovelAI: its models are not
    distributed, so the checkpoint is marked NOT_FOUND. Each becomes an inferred part with a low
    confidence, and optional packs that would help are listed.
    """
    info = b.info
    gen = (info.generator or "").lower()
    extra = {str(k).lower(): v for k, v in info.extra.items()}
    if gen in WEBUI_GENERATORS:
        rng = str(extra.get("rng") or "").upper()
        if rng != "CPU":
            b.guess("initial noise", f"the WebUI drew the seed's noise on the {rng or 'GPU (its default)'}; ComfyUI "
                    "draws it on the CPU, so the same seed gives a different image (ComfyUI_smZNodes can imitate "
                    "GPU noise)", 0.5)
            b.packs.append(CustomNodeNeed(pack="ComfyUI_smZNodes", classes=["smZ Settings"], optional=True,
                                          reason="WebUI-style GPU noise and prompt weighting"))
        if extra.get("ensd") or extra.get("eta noise seed delta"):
            b.guess("eta noise seed delta", f"ENSD {extra.get('ensd') or extra.get('eta noise seed delta')} shifts "
                    "the ancestral samplers' noise in the WebUI; ComfyUI has no such setting", 0.4)
    if "fooocus" in gen:
        if extra.get("styles") or extra.get("prompt_expansion"):
            b.guess("Fooocus styles", f"Fooocus applied styles {extra.get('styles') or ''} (and its prompt "
                       "expansion) to the prompt before encoding; the prompt here is the one typed", 0.4)
        tweaks = [k for k in ("sharpness", "adm_guidance", "adaptive_cfg") if k in extra]
        if tweaks:
            b.guess("Fooocus sampling tweaks", f"{', '.join(tweaks)} are Fooocus-only patches with no core "
                       "ComfyUI equivalent", 0.5)
    if gen.startswith("novelai"):
        for m in b.models:
            if m.role == "checkpoint":
                m.verdict = "NOT_FOUND"
                m.detail = {"reason": "NovelAI's models are not distributed"}
        b.guess("checkpoint", "NovelAI's own models cannot be downloaded; use a similar anime SDXL checkpoint "
                   "and expect a different image", 0.1)
        if extra.get("character_prompts"):
            b.guess("NovelAI character prompts", "V4 per-character prompts (with positions) have no core "
                       "ComfyUI equivalent; only the base prompt is encoded", 0.3)

def _fields(settings: dict[str, object]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in settings.items())


def _not_rebuilt(b: Builder, title: str, note: str, why: str, confidence: float,
                 packs: list[tuple[str, list[str], str]], *, what: str | None = None) -> None:
    """A part of the generation ComfyUI's core cannot rebuild: a Note node saying so, an inferred part
    (so the result is UNCERTAIN) and the optional packs that would do the job."""
    b.g.notes.append(Note(f"{title} (not rebuilt)", note))
    b.guess(what or title, f"{why}; left as a note, UNCERTAIN", confidence)
    b.packs.extend(CustomNodeNeed(pack=pack, classes=classes, optional=True, reason=reason)
                   for pack, classes, reason in packs)


def optional_parts(b: Builder) -> None:
    """ADetailer, ControlNet and variation seeds from the metadata: each becomes a Note node with its
    settings and the packs that would do the job (added as optional ``CustomNodeNeed``), plus an inferred
    part with a confidence of at most 0.3, so the result is UNCERTAIN.
    """
    info = b.info
    if info.adetailer:
        _not_rebuilt(b, "ADetailer", "The image was post-processed by ADetailer:\n" + _fields(info.adetailer) +
                     "\n\nIn ComfyUI: Impact Pack FaceDetailer + UltralyticsDetectorProvider "
                     "(Impact Subpack) with the same detector model, denoise and padding.",
                     "ADetailer settings are in the metadata, but its ComfyUI equivalent (FaceDetailer) "
                     "needs custom packs and does not reproduce it exactly", 0.3,
                     [("ComfyUI-Impact-Pack", ["FaceDetailer"], "ADetailer face/hand fix"),
                      ("ComfyUI-Impact-Subpack", ["UltralyticsDetectorProvider"], "ADetailer's YOLO detector")])
    if info.controlnet:
        _not_rebuilt(b, "ControlNet", "The image used ControlNet:\n" + _fields(info.controlnet) +
                     "\n\nThe control image is not in the metadata. In ComfyUI: ControlNetLoader + "
                     "ControlNetApplyAdvanced (core) and a preprocessor from comfyui_controlnet_aux.",
                     "ControlNet settings are in the metadata but its control image is not", 0.2,
                     [("comfyui_controlnet_aux", [], "ControlNet preprocessor")])
    if info.subseed is not None and (info.subseed_strength or 0) > 0:
        _not_rebuilt(b, "Variation seed", f"Variation seed {info.subseed}, strength {info.subseed_strength}.\n"
                     "ComfyUI core has no variation seed; Inspire Pack's KSampler (inspire) "
                     "has variation_seed / variation_strength.",
                     "WebUI variation seeds have no core ComfyUI equivalent; the image will differ", 0.2,
                     [("ComfyUI-Inspire-Pack", ["KSampler //Inspire"], "variation seed")], what="variation seed")
