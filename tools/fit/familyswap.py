"""A smaller family member that needs a different graph: Wan 2.2/2.1 14B text-to-video → the official
Wan 2.2 TI2V 5B template, carrying the workflow's own prompts.

The 5B model is not a drop-in file for the 14B pair: it has its own VAE (``wan2.2_vae``, 48 latent
channels, ÷16; the 2.1 VAE gives a channel-mismatch error), its own latent node
(``Wan22ImageToVideoLatent``), one dense model instead of two experts, and the 14B speed LoRAs do not
apply to it (knowledge/model-family-wan.md). So instead of rewiring a stranger's graph, the copy is
the official ``video_wan2_2_5B_ti2v.json`` template from the installed templates package — valid as
published, every file in it real — with the positive and negative prompts of the workflow being
tuned. Only text-to-video is swapped (the 5B template samples from an empty latent); an
image-to-video or control workflow is left alone. The tuner's usual steps (fp8 cast, tiled decode,
fewer frames, GGUF from the recorded lists) then run on the copy.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import Any

from comfyfixer.tools.fit.families import GiB
from comfyfixer.tools.fit.tune import TuneChange, _set_widget, _Tuner

log = logging.getLogger(__name__)

WAN_14B_T2V = re.compile(r"wan2\.[12]_t2v_.*14b", re.I)
TEMPLATE = "video_wan2_2_5B_ti2v.json"
_SAMPLERS = ("KSampler", "KSamplerAdvanced")
_ALLOWED_ROLES = {"diffusion", "text_encoder", "vae", "lora"}
_SPEED_LORA = re.compile(r"lightx2v|causvid|step_?distill|4steps", re.I)
COST = ("Wan 2.2 TI2V 5B instead of the 14B model: one dense 5B model at 720p (1280×704, 24 fps) with the Wan 2.2 VAE, "
        "less motion quality and prompt following than 14B; the 14B LoRAs do not apply, so it samples as the official "
        "5B template does (20 steps, CFG 5) (knowledge/model-family-wan.md)")


def _template() -> Path | None:
    from comfyfixer.tools.catalogs.model_index import find_template_dirs

    return next((d / TEMPLATE for d in find_template_dirs() if (d / TEMPLATE).is_file()), None)


def _prompt_nodes(graph: Any, schemas: Any) -> tuple[Any, Any] | None:
    """The positive and negative CLIPTextEncode nodes of the first active sampler, or None."""
    from comfyfixer.tools.workflow.graph import Link

    for node in sorted(graph.nodes.values(), key=lambda n: str(n.id)):
        if not node.active or node.class_type not in _SAMPLERS:
            continue
        pair = []
        for key in ("positive", "negative"):
            link = node.inputs.get(key)
            origin = graph.nodes.get(link.origin) if isinstance(link, Link) else None
            if origin is None or origin.class_type != "CLIPTextEncode":
                return None
            pair.append(origin)
        return pair[0], pair[1]
    return None


def _text(node: Any, schemas: Any) -> str | None:
    from comfyfixer.tools.workflow.graph import Link
    from comfyfixer.tools.workflow.widgets import widget_inputs

    value = node.inputs.get("text")
    if isinstance(value, Link):
        if not value.origin.endswith(":-10"):  # computed by another node: not a text we can carry over
            return None
        value = None
    if value is None:
        value = widget_inputs(node, schemas.get(node.class_type))[0].get("text")
    return value if isinstance(value, str) else None


def rebuild_as_5b(t: _Tuner) -> bool:
    """Replace a Wan 14B text-to-video workflow by the 5B template with its prompts; True when done."""
    from comfyfixer.tools.workflow.loader import load_workflow

    diffusion = [m for m in t.report.models if m.role == "diffusion"]
    if not diffusion or not all(WAN_14B_T2V.search(m.filename) for m in diffusion):
        return False
    # A LoRA that changes what the workflow makes (Wan Alpha's RGBA LoRA, a style) is made for 14B and
    # has no 5B counterpart here; the 14B speed LoRAs are simply not needed by the 5B template.
    others = sorted({m.filename for m in t.report.models if m.role not in _ALLOWED_ROLES
                     or (m.role == "lora" and not _SPEED_LORA.search(m.filename))})
    if others:
        t.notes.append(f"Wan 14B → 5B not done: the workflow also loads {', '.join(others)}")
        return False
    source = _template()
    prompts = _prompt_nodes(t.graph, t.schemas)
    texts = tuple(_text(n, t.schemas) for n in prompts) if prompts else None
    if source is None or texts is None or None in texts:
        t.notes.append("Wan 14B → 5B not done: " + ("the official 5B template is not installed" if source is None
                                                   else "the prompts are not plain text the copy can carry"))
        return False
    doc = json.loads(source.read_text(encoding="utf-8"))
    target = _prompt_nodes(load_workflow(copy.deepcopy(doc), origin=str(source)).graph, t.schemas)
    if target is None:
        return False
    t.doc = doc
    t.changes = []  # the changes made to the 14B graph, and what was said about it, are gone with it
    t.notes = [f"the 14B graph does not fit {t.vram / GiB:g} GB with any known file or setting: rebuilt on the 5B template"]
    t.changes.append(TuneChange(node_id="*", class_type="workflow", input="graph",
                                old=", ".join(sorted({m.filename for m in diffusion})), new=TEMPLATE,
                                why=f"the official {TEMPLATE} template ({source.parent.parent.name}): {COST}"))
    for node, text, which in zip(target, texts, ("positive", "negative"), strict=True):
        old = _set_widget(t.doc, t.schemas, node.id, "CLIPTextEncode", "text", text)
        t.changes.append(TuneChange(node_id=node.id, class_type="CLIPTextEncode", input="text", old=old, new=text,
                                    why=f"your {which} prompt, carried over"))
    t.estimate()
    return True
