"""Canonical metadata for an image saved by the pack, and the three containers that carry it.

One JSON document (``schema: comfyfixer.metadata/1``) says how the image was made:

* ``parser`` — the graph read the way ``comfyfixer image`` reads any ComfyUI image
  (``tools/imagemeta/generators/comfyui.py::info_from_comfy`` on the prompt and workflow);
* ``runtime`` — the capture of this run (``capture.Session.as_dict``), when hooks were on;
* ``merged`` — every node's inputs with the value that won and where it came from: the run's
  resolved value (``runtime``), the last run's for a cached node (``previous_run``), or the prompt's
  literal (``parser``); runtime always wins where both exist;
* ``capture_mode`` — ``parser`` or ``parser+hooks``; ``parameters`` — the A1111-style line.

Where it goes: PNG — compressed iTXt ``parameters``, ``prompt``, ``workflow`` and ``comfyfixer``;
JPEG — EXIF UserComment (the parameters line, what Civitai and A1111 readers look at) and XMP holding
the document under the project's namespace; WebP — EXIF (UserComment, plus ComfyUI's own
``Make = workflow:…`` / ``Model = prompt:…`` convention so ComfyUI can load the graph) and XMP.
When the heavy parts (``prompt``, ``workflow``, ``runtime``, ``merged``) would push the inline
document over the budget (default 32 KB) they go to ``<image name>.comfyfixer.json`` next to the
image, and the embedded document keeps a ``sidecar`` pointer (file name, size, SHA-256).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfyfixer.tools.imagemeta.generators.comfyfixer import NAMESPACE, SCHEMA, SIDECAR_SUFFIX
from comfyfixer.tools.paths import atomic_write

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

DEFAULT_INLINE_BUDGET = 32 * 1024
JPEG_SEGMENT_LIMIT = 60_000  # one APP1 segment holds at most 64 KB; EXIF and XMP each get one
HEAVY_PARTS = ("prompt", "workflow", "runtime", "merged")
_SAMPLER_KEYS = {"seed": "seed", "noise_seed": "seed", "steps": "steps", "cfg": "cfg", "sampler_name": "sampler",
                 "scheduler": "scheduler", "denoise": "denoise"}


def _is_link(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int)


def parser_view(prompt: dict[str, Any] | None, workflow: dict[str, Any] | None) -> dict[str, Any]:
    """What the project's image reader would say about this graph (prompt text, seed, sampler, models…)."""
    from comfyfixer.tools.imagemeta.generators.comfyui import info_from_comfy
    from comfyfixer.tools.imagemeta.models import GenerationInfo

    info = info_from_comfy(workflow, prompt, GenerationInfo())
    fields = ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler", "sampler_raw",
              "scheduler_raw", "width", "height", "denoise")
    view: dict[str, Any] = {f: getattr(info, f) for f in fields if getattr(info, f) is not None}
    if info.model is not None and info.model.name:
        view["model"] = info.model.name
    if info.loras:
        view["loras"] = [{"name": lo.name, "weight": lo.weight} for lo in info.loras]
    return view


def merge(prompt: dict[str, Any] | None, runtime: dict[str, Any] | None) -> dict[str, Any]:
    """Per node, each input's winning value and its ``source``: the run's value where the capture has
    one (``runtime`` / ``previous_run``), else the prompt's literal (``parser``); a link nobody resolved
    stays a ``link``. Nodes only the run knows (expanded ones) are included from the capture."""
    merged: dict[str, Any] = {}
    run_nodes = (runtime or {}).get("nodes", {})
    for nid, node in (prompt or {}).items():
        if not isinstance(node, dict):
            continue
        inputs: dict[str, Any] = {}
        for name, value in (node.get("inputs") or {}).items():
            inputs[name] = {"link": value, "source": "parser"} if _is_link(value) else {"value": value, "source": "parser"}
        rec = run_nodes.get(str(nid))
        if rec and rec.get("source") in ("runtime", "previous_run"):
            for name, value in rec.get("inputs", {}).items():
                inputs[name] = {"value": value, "source": rec["source"]}
        merged[str(nid)] = {"class_type": node.get("class_type"), "inputs": inputs}
    for nid, rec in run_nodes.items():
        if nid not in merged:
            merged[nid] = {"class_type": rec.get("class_type"),
                           "inputs": {k: {"value": v, "source": rec.get("source")} for k, v in rec.get("inputs", {}).items()}}
    return merged


def _runtime_overrides(merged: dict[str, Any], view: dict[str, Any]) -> dict[str, Any]:
    """The parser view with sampler settings the run resolved (a seed fed by a link, a switched
    scheduler) put in place: runtime wins."""
    out = dict(view)
    for node in merged.values():
        if "sampler" not in str(node.get("class_type", "")).lower():
            continue
        for name, key in _SAMPLER_KEYS.items():
            entry = node["inputs"].get(name)
            if entry and entry.get("source") != "parser" and isinstance(entry.get("value"), str | int | float):
                out[key] = entry["value"]
        break
    return out


def parameters_line(view: dict[str, Any], width: int, height: int) -> str:
    """An A1111-style parameters text (prompt, ``Negative prompt:``, one settings line) from the
    merged view; ``Size`` is the graph's generation size, or the pixel size written when it has none."""
    lines = [str(view.get("prompt") or "")]
    if view.get("negative_prompt"):
        lines.append(f"Negative prompt: {view['negative_prompt']}")
    settings: list[str] = []
    for key, label in (("steps", "Steps"), ("sampler", "Sampler"), ("scheduler", "Schedule type"), ("cfg", "CFG scale"),
                       ("seed", "Seed")):
        if view.get(key) is not None:
            settings.append(f"{label}: {view[key]}")
    # A1111's Size is the generation size; the pixel size stands in when the graph has none (image-only graphs).
    if isinstance(view.get("width"), int) and isinstance(view.get("height"), int):
        width, height = view["width"], view["height"]
    settings.append(f"Size: {width}x{height}")
    if view.get("model"):
        settings.append(f"Model: {view['model']}")
    if view.get("denoise") is not None and view.get("denoise") != 1:
        settings.append(f"Denoising strength: {view['denoise']}")
    for lo in view.get("loras", []):
        settings.append(f"Lora: {lo['name']}:{lo.get('weight')}".replace(",", " "))
    settings.append("Version: ComfyUI")
    settings.append("Generator: ComfyFixerSmart")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def build_document(prompt: dict[str, Any] | None, workflow: dict[str, Any] | None, runtime: dict[str, Any] | None,
                   *, width: int, height: int) -> dict[str, Any]:
    """The full canonical document (before any part moves to a sidecar)."""
    view = parser_view(prompt, workflow)
    # A session whose hooks failed is kept for the record but trusted for nothing.
    usable = runtime if runtime and not runtime.get("error") else None
    merged = merge(prompt, usable)
    effective = _runtime_overrides(merged, view) if usable else view
    return {
        "schema": SCHEMA,
        "capture_mode": "parser+hooks" if usable else "parser",
        "parameters": parameters_line(effective, width, height),
        "parser": view,
        "effective": effective,
        "image": {"width": width, "height": height},
        "runtime": runtime,
        "merged": merged,
        "prompt": prompt,
        "workflow": workflow,
    }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=True)


@dataclass
class Written:
    """What :func:`write_image` produced: the image, the sidecar if any, and the inline size in bytes."""

    image: Path
    sidecar: Path | None
    inline_bytes: int


def split_for_budget(doc: dict[str, Any], budget: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(inline document, sidecar document or None): the heavy parts leave when the whole is over ``budget``."""
    def size(d: dict[str, Any]) -> int:
        return len(_dumps(d).encode("utf-8"))

    if size(doc) <= budget:
        return doc, None
    inline = {k: v for k, v in doc.items() if k not in HEAVY_PARTS}
    side = {"schema": SCHEMA, **{k: doc[k] for k in HEAVY_PARTS if doc.get(k) is not None}}
    # A prompt of many KB appears three times (parameters, parser, effective): those follow if needed.
    for more in (("parser", "effective"), ("parameters",)):
        if size(inline) <= budget:
            break
        for key in more:
            if key in inline:
                side[key] = inline.pop(key)
    return inline, side


def _xmp(inline: dict[str, Any]) -> bytes:
    """An XMP packet holding the document as the text of ``comfyfixer:metadata`` (escaped, so any
    prompt text is safe inside it)."""
    body = html.escape(_dumps(inline), quote=False)
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:comfyfixer="{NAMESPACE}">'
            f"<comfyfixer:metadata>{body}</comfyfixer:metadata>"
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def _user_comment(text: str) -> bytes:
    return b"UNICODE\x00" + text.encode("utf-16-be")


def encode(image: Image.Image, fmt: str, inline: dict[str, Any], *, parameters: str | None = None,
           quality: int = 95) -> bytes:
    """The image file's bytes in ``fmt`` (png, jpeg, webp) with ``inline`` embedded; ``parameters`` (default:
    the inline one) is the A1111 text for the ``parameters`` chunk / EXIF UserComment, whole even when the
    document's copy went to the sidecar (cut to one EXIF segment in JPEG)."""
    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    buf = io.BytesIO()
    params = parameters if parameters is not None else str(inline.get("parameters") or "")
    if fmt == "jpeg" and len(params) * 2 > JPEG_SEGMENT_LIMIT - 1024:
        params = params[: (JPEG_SEGMENT_LIMIT - 1024) // 2]  # UTF-16 in one APP1 segment
    if fmt == "png":
        info = PngInfo()
        info.add_itxt("parameters", params, zip=True)
        for key in ("prompt", "workflow"):
            if inline.get(key) is not None:
                info.add_itxt(key, _dumps(inline[key]), zip=True)
        info.add_itxt("comfyfixer", _dumps(inline), zip=True)
        image.save(buf, "PNG", pnginfo=info, compress_level=4)
        return buf.getvalue()
    exif = PILImage.Exif()
    exif.get_ifd(0x8769)[0x9286] = _user_comment(params)
    if fmt == "webp":
        # ComfyUI's own WebP convention (SaveAnimatedWEBP): Make = "workflow:…", Model = "prompt:…".
        # EXIF ASCII tags cannot hold other characters (Pillow writes "?"): JSON's \u escapes keep them.
        if inline.get("workflow") is not None:
            exif[0x010F] = "workflow:" + json.dumps(inline["workflow"], separators=(",", ":"), default=str)
        if inline.get("prompt") is not None:
            exif[0x0110] = "prompt:" + json.dumps(inline["prompt"], separators=(",", ":"), default=str)
        image.save(buf, "WEBP", exif=exif.tobytes(), xmp=_xmp(inline), quality=quality)
        return buf.getvalue()
    if fmt == "jpeg":
        rgb = image.convert("RGB") if image.mode != "RGB" else image
        rgb.save(buf, "JPEG", exif=exif.tobytes(), xmp=_xmp(inline), quality=quality)
        return buf.getvalue()
    raise ValueError(f"unknown image format {fmt!r}")


def write_image(image: Image.Image, path: Path, doc: dict[str, Any], *, budget: int = DEFAULT_INLINE_BUDGET,
                quality: int = 95) -> Written:
    """Write ``image`` with ``doc`` embedded as a new file at ``path`` (never over an existing one), the
    heavy parts in a sidecar when over ``budget``. The format follows the suffix (.png, .jpg/.jpeg, .webp).
    JPEG's budget is capped at one APP1 segment."""
    path = Path(path)
    fmt = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path.name}: the save node writes .png, .jpg or .webp")
    if fmt == "jpeg":
        budget = min(budget, JPEG_SEGMENT_LIMIT // 2)  # XMP and EXIF both carry text; keep each in one segment
    inline, side = split_for_budget(doc, budget)
    sidecar: Path | None = None
    if side is not None:
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)  # x_00001_.png.comfyfixer.json: one per image
        data = _dumps(side).encode("utf-8")
        atomic_write(sidecar, data, exclusive=True)
        inline = {**inline, "sidecar": {"file": sidecar.name, "bytes": len(data),
                                        "sha256": hashlib.sha256(data).hexdigest(), "parts": sorted(k for k in side if k != "schema")}}
        log.info("metadata over %d bytes: %s moved to %s", budget, ", ".join(inline["sidecar"]["parts"]), sidecar.name)
    atomic_write(path, encode(image, fmt, inline, parameters=str(doc.get("parameters") or ""), quality=quality),
                 exclusive=True)
    return Written(image=path, sidecar=sidecar, inline_bytes=len(_dumps(inline).encode("utf-8")))
