"""Evidence from Civitai: an image's ``meta`` (``/images``), its post's other images and the author's.

``meta`` is what the uploader's generator wrote: A1111-style keys (``prompt``, ``seed``,
``Size``, ``Model hash``, ``Hires upscale`` …), Civitai's ``resources``/``civitaiResources``
(model-version ids) and, for ComfyUI images, ``comfy`` — a JSON *string* holding
``{prompt, workflow?}``. The A1111-style keys are handed to the metadata reader's own
A1111 parser (rendered back into its text form), so both paths read fields the same way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from comfyfixer.tools.civitai.models import Image
from comfyfixer.tools.errors import InputError, NotFound
from comfyfixer.tools.imagemeta.a1111 import hash_kind, info_from_a1111
from comfyfixer.tools.imagemeta.models import GenerationInfo, LoraRef

log = logging.getLogger(__name__)

# One page of /images per query: enough neighbours to find a graph, at one request each.
SIBLING_LIMIT = 20


class ImageSource(Protocol):
    """What we need of ``CivitaiClient``: its ``images`` query."""

    def images(self, *, image_id: int | None = None, post_id: int | None = None,
               model_version_id: int | None = None, username: str | None = None, limit: int = 20,
               max_pages: int = 1) -> Iterator[Image]: ...


@dataclass
class CivitaiEvidence:
    """An image and the images around it: ``post_images`` (its post, itself included, at most
    ``SIBLING_LIMIT``) and ``author_images`` (the author's images made with the same checkpoint version).
    """
    image: Image
    post_images: list[Image] = field(default_factory=list)
    author_images: list[Image] = field(default_factory=list)

    @property
    def graph_siblings(self) -> list[Image]:
        """Other images (same post, or same author and model version) that carry a full ComfyUI graph."""
        seen = {self.image.id}
        out = []
        for img in [*self.post_images, *self.author_images]:
            if img.id in seen:
                continue
            seen.add(img.id)
            comfy = img.comfy
            if comfy and (comfy.get("workflow") or comfy.get("prompt")):
                out.append(img)
        return out


_IMAGE_URL = re.compile(r"civitai\.com/images/(\d+)")
_POST_URL = re.compile(r"civitai\.com/posts/(\d+)")
_CDN_URL = re.compile(r"image(?:cache)?\.civitai\.com/.+/(\d+)\.(?:jpe?g|png|webp|mp4)(?:$|\?)")


def parse_civitai_url(url: str) -> tuple[str, int] | None:
    """("image", id) or ("post", id) for civitai.com image/post pages and CDN image URLs named by id."""
    for kind, rx in (("image", _IMAGE_URL), ("post", _POST_URL), ("image", _CDN_URL)):
        m = rx.search(url)
        if m:
            return kind, int(m.group(1))
    return None


def _first(it: Iterable[Image]) -> Image | None:
    return next(iter(it), None)


def fetch_evidence(source: ImageSource, *, image_id: int | None = None, post_id: int | None = None) -> CivitaiEvidence:
    """The target image plus supporting images. For a post, the target is its richest image.

    "Richest" prefers an image with a ComfyUI graph, then the one with the most metadata keys. Raises
    ``NotFound`` for an image id Civitai does not list publicly or a post with no public images, and
    ``InputError`` when neither id is given. Costs one to three ``/images`` requests.
    """
    if image_id is not None:
        img = _first(source.images(image_id=image_id, limit=1))
        if img is None or img.id != image_id:
            raise NotFound(f"Civitai has no public image {image_id}", hint="check the id; private or removed images are not listed")
        ev = CivitaiEvidence(image=img)
        if img.post_id is not None:
            ev.post_images = list(source.images(post_id=img.post_id, limit=SIBLING_LIMIT))
    elif post_id is not None:
        items = list(source.images(post_id=post_id, limit=SIBLING_LIMIT))
        if not items:
            raise NotFound(f"Civitai post {post_id} has no public images")
        ev = CivitaiEvidence(image=max(items, key=_richness), post_images=items)
    else:
        raise InputError("give a Civitai image id or post id")
    versions = _version_ids(ev.image)
    if ev.image.username and versions:
        try:
            ev.author_images = list(source.images(username=ev.image.username, model_version_id=versions[0],
                                                  limit=SIBLING_LIMIT))
        except NotFound:
            ev.author_images = []
    return ev


def _richness(img: Image) -> int:
    """How much evidence an image carries: a ComfyUI graph outweighs any amount of other metadata."""
    meta = img.meta or {}
    return (100 if img.comfy else 0) + len(meta)


def _version_ids(img: Image) -> list[int]:
    """Checkpoint model-version ids from the image's ``civitaiResources`` first, then the image's own
    ``modelVersionIds``, without duplicates.
    """
    ids: list[int] = []
    for res in (img.meta or {}).get("civitaiResources") or []:
        if isinstance(res, dict) and isinstance(res.get("modelVersionId"), int) and res.get("type", "").lower() == "checkpoint":
            ids.append(res["modelVersionId"])
    ids += [v for v in img.model_version_ids if v not in ids]
    return ids


# Civitai's camelCase keys → the A1111 keys the parser reads.
_KEY_NAMES = {
    "seed": "Seed", "steps": "Steps", "sampler": "Sampler", "cfgScale": "CFG scale", "clipSkip": "Clip skip",
    "scheduler": "Schedule type", "denoise": "Denoising strength", "width": None, "height": None,
}
_SKIP = {"prompt", "negativePrompt", "resources", "civitaiResources", "hashes", "comfy", "workflow", "additionalResources",
         "models", "upscalers", "vaes", "controlNets", "extra", "extraMetadata", "nsfw", "draft", "type"}


def _a1111_value(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v)
    if isinstance(v, str) and any(c in s for c in ",:\n"):
        return json.dumps(s, ensure_ascii=False)
    return s


def meta_to_info(meta: dict[str, Any]) -> GenerationInfo:
    """A Civitai image ``meta`` → ``GenerationInfo``, through the A1111 parser.

    Civitai's camelCase keys are renamed to the A1111 keys, the text is rendered as A1111 would write it and
    parsed by ``imagemeta.a1111``, then ``resources`` (LoRA names, weights, hashes) and ``civitaiResources``
    (model-version ids, kept in ``extra["civitai_resources"]``) are merged in. ``generator`` is "Civitai".
    """
    pairs: list[str] = []
    for k, v in meta.items():
        if k in _SKIP or v is None or v == "":
            continue
        key = _KEY_NAMES.get(k, k)
        if key is None:
            continue
        pairs.append(f"{key}: {_a1111_value(v)}")
    if "Size" not in meta and meta.get("width") and meta.get("height"):
        pairs.append(f"Size: {meta['width']}x{meta['height']}")
    hashes = meta.get("hashes")
    if isinstance(hashes, dict) and hashes:
        pairs.append(f"Hashes: {json.dumps(hashes)}")
    lines = [str(meta.get("prompt") or "")]
    if meta.get("negativePrompt"):
        lines.append(f"Negative prompt: {meta['negativePrompt']}")
    lines.append(", ".join(pairs))
    info = info_from_a1111("\n".join(lines))
    info.generator = "Civitai"
    info.raw = {"civitai_meta": meta}
    _merge_resources(info, meta)
    return info


def _merge_resources(info: GenerationInfo, meta: dict[str, Any]) -> None:
    """``resources`` (name/type/weight/hash) and ``civitaiResources`` (version ids) into models and LoRAs."""
    by_name = {lo.name.lower(): lo for lo in info.loras}
    for res in meta.get("resources") or []:
        if not isinstance(res, dict):
            continue
        rtype = str(res.get("type") or "").lower()
        name, h = res.get("name"), res.get("hash")
        if rtype in ("lora", "locon", "lycoris") and name:
            ref = by_name.get(str(name).lower())
            if ref is None:
                ref = LoraRef(name=str(name), weight=_num(res.get("weight")))
                info.loras.append(ref)
                by_name[ref.name.lower()] = ref
            if h:
                ref.hashes.setdefault(hash_kind(str(h)), str(h))
        elif rtype == "model" and h and info.model is not None and not info.model.hashes:
            info.model.hashes[hash_kind(str(h))] = str(h)
    versions = [r for r in meta.get("civitaiResources") or [] if isinstance(r, dict) and r.get("modelVersionId")]
    if versions:
        info.extra["civitai_resources"] = versions


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def comfy_graphs(img: Image) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(UI workflow, API prompt) from ``meta.comfy``; links inlined as nested nodes are not accepted.

    Either may arrive as a JSON string and is decoded; a workflow without a ``nodes`` list and API entries
    without ``class_type`` are dropped, so a malformed upload yields ``(None, None)`` rather than an error.
    """
    comfy = img.comfy
    if not comfy:
        return None, None
    wf = comfy.get("workflow")
    prompt = comfy.get("prompt")
    if isinstance(wf, str):
        try:
            wf = json.loads(wf)
        except ValueError:
            wf = None
    if isinstance(prompt, str):
        try:
            prompt = json.loads(prompt)
        except ValueError:
            prompt = None
    wf = wf if isinstance(wf, dict) and isinstance(wf.get("nodes"), list) else None
    if isinstance(prompt, dict):
        prompt = {str(k): v for k, v in prompt.items() if isinstance(v, dict) and "class_type" in v}
    else:
        prompt = None
    return wf, prompt or None
