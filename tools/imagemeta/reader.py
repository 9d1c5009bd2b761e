"""Entry points: read one image, many images, or folders into ``GenerationInfo``.

Detection order matters (both peer tools fail by probing in the wrong order):
SwarmUI and Fooocus JSON before A1111 text, InvokeAI and NovelAI by their keys,
Civitai JSON before generic JSON, ComfyUI graphs always kept alongside whatever
text a saver wrote, stealth pixels only when nothing else was found.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.imagemeta.a1111 import (
    info_from_a1111,
    info_from_parts,
    looks_like_a1111,
    parse_a1111_text,
    split_settings,
)
from comfyfixer.tools.imagemeta.containers import (
    ContainerError,
    ContainerInfo,
    RawEntry,
    read_container,
    sniff,
)
from comfyfixer.tools.imagemeta.generators import others
from comfyfixer.tools.imagemeta.generators.comfyfixer import apply_own_fields
from comfyfixer.tools.imagemeta.generators.comfyui import info_from_comfy
from comfyfixer.tools.imagemeta.graphs import find_graphs, is_api_prompt, is_ui_workflow, parse_once, try_json
from comfyfixer.tools.imagemeta.models import GenerationInfo, ImageReadResult, ReadImageInput
from comfyfixer.tools.imagemeta.samplers import COMFY_SAMPLERS
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".jfif", ".apng"}
SIDECAR_LIMIT = 32 * 1024 * 1024
_TEXT_CARRIERS = ("parameters", "UserComment", "Comment", "Description", "ImageDescription", "XPComment", "postprocessing",
                  "Model", "Make")  # SwarmUI legacy put its JSON in the EXIF Model tag


class ImageReadError(InputError):
    """An image is damaged or hostile in a way that stops reading it."""


def _raw_dict(entries: list[RawEntry]) -> dict[str, str]:
    """Entries by key; repeated keys become ``key#2``, ``key#3``, ... (a counter per key, not a rescan)."""
    raw: dict[str, str] = {}
    next_n: dict[str, int] = {}
    for e in entries:
        key = e.key
        n = next_n.get(key, 2)
        while key in raw:
            key = f"{e.key}#{n}"
            n += 1
        next_n[e.key] = n
        raw[key] = e.value
    return raw


def _a1111_generator(info: GenerationInfo) -> str:
    """Which program wrote A1111-style text: SD.Next (``App``), Civitai (resource keys), ComfyUI saver nodes
    (their version keys, seeds of 2**32 or more, ComfyUI sampler names), Forge (version ``f…``/``classic``/
    ``neo``), else A1111.
    """
    ex = {k.lower(): v for k, v in info.extra.items()}
    if str(ex.get("app", "")).lower().startswith("sd.next"):
        return "SD.Next"
    if "civitai resources" in ex or "civitai metadata" in ex:
        return "Civitai"
    if "metadata generator version" in ex or any(re.match(r"lora_\d+ model name", k) for k in ex):
        return "ComfyUI"
    version = str(ex.get("version", ""))
    if version.lower() == "comfyui":
        return "ComfyUI"
    # ComfyUI savers writing A1111 text: 50-bit seeds, ComfyUI sampler names ("euler_simple").
    first = (info.sampler_raw or "").split(" ")[0]
    if (info.seed or 0) >= 2**32 or (first and first in COMFY_SAMPLERS) or (first and first.rsplit("_", 1)[0] in COMFY_SAMPLERS):
        return "ComfyUI"
    if re.match(r"^(f\d|classic|neo)", version):
        return "Forge"
    return "A1111"


def _parse_xxmjskxx_lines(text: str, info: GenerationInfo) -> bool:
    """SaveImageWithMetaData COM-marker fallback: one ``Key: value`` per line."""
    if "Metadata generator version" not in text:
        return False
    lines = text.replace("\r\n", "\n").split("\n")
    settings: list[str] = []
    while lines and ((re.match(r"^[A-Z][\w ]*: ", lines[-1]) and not lines[-1].startswith("Negative prompt:")) or not lines[-1].strip()):
        settings.insert(0, lines.pop())
    prompt, negative, _ = parse_a1111_text("\n".join(lines))
    pairs = split_settings(", ".join(s.strip() for s in settings if s.strip()))
    info_from_parts(prompt, negative, pairs, info)
    return True


def _apply_text(text: str, info: GenerationInfo) -> bool:
    """Try every text-carried format on one value."""
    t = text.strip()
    # Each format on its own evidence: JSON only if the text parses as JSON. A prompt that merely
    # starts with "{" (dynamic prompts: "{red|blue} hair") is A1111 text when its settings line says so.
    d = try_json(t) if t[:1] in ("{", "[") else None
    if isinstance(d, dict):
        for parser in (others.parse_swarmui, others.parse_fooocus, others.parse_civitai_json, others.parse_novelai_wrapped):
            if parser(t, info):
                return True
        if not is_api_prompt(d) and not is_ui_workflow(d):
            if others.parse_easydiffusion({k: v for k, v in d.items() if isinstance(v, str | int | float)}, info):
                return True
            return others.parse_generic_json(t, info, "unknown")
        return False
    if d is not None:  # valid JSON, but not an object: no text format is JSON arrays or scalars
        return False
    if looks_like_a1111(t):
        info_from_a1111(t, info)
        info.generator = _a1111_generator(info)
        info.generator_confidence = 0.9 if info.generator != "A1111" or "version" in {k.lower() for k in info.extra} else 0.75
        return True
    if _parse_xxmjskxx_lines(t, info):
        info.generator, info.generator_confidence = "ComfyUI", 0.8
        return True
    return False


def _detect(cinfo: ContainerInfo, info: GenerationInfo) -> None:
    """Run the format detectors on a container's entries in order; the first that recognises its format
    wins and fills ``info``.

    Order (see the module docstring for why it matters): InvokeAI keys, NovelAI markers, XMP (Draw
    Things), the Fooocus scheme marker, Stability Matrix, then the generic text carriers
    (``parameters``, EXIF ``UserComment``…) through :func:`_apply_text`, EasyDiffusion's one-chunk-per-field
    PNGs, and Tensor.art's ``generation_data``. Leaves ``info.generator`` None when nothing matched.
    """
    get = cinfo.get
    # InvokeAI
    if get("invokeai_metadata") and others.parse_invokeai_metadata(get("invokeai_metadata") or "", info):
        return
    if get("sd-metadata") and others.parse_invokeai_sd_metadata(get("sd-metadata") or "", info):
        return
    if get("Dream") and others.parse_invokeai_dream(get("Dream") or "", info):
        return
    # NovelAI: PNG text keys, or WebP EXIF Software + UserComment wrapper.
    software = get("Software") or ""
    source = get("Source") or (software if software.startswith("NovelAI") else None)
    if software.startswith("NovelAI") or (source or "").startswith("NovelAI") or (get("Title") or "").endswith("generated image"):
        comment = get("Comment") or get("UserComment")
        if comment and others.parse_novelai(comment, info, description=get("Description") or get("ImageDescription"), source=source):
            return
    # Draw Things and other XMP writers.
    xmp = get("XML:com.adobe.xmp") or get("XMP")
    if xmp:
        if others.parse_drawthings(xmp, info):
            return
        fields = others.xmp_fields(xmp)
        for key in ("UserComment", "description"):
            if fields.get(key) and _apply_text(fields[key], info):
                return
    # Fooocus scheme marker: PNG text chunk, or the EXIF MakerNote of JPEG/WebP.
    scheme = get("fooocus_scheme") or (get("MakerNote") or "").strip().lower()
    params = get("parameters") or get("UserComment")
    if scheme == "a1111" and params and looks_like_a1111(params):
        info_from_a1111(params, info)
        info.generator, info.generator_confidence = "Fooocus", 0.95
        return
    if scheme == "fooocus" and params and others.parse_fooocus(params, info):
        info.generator, info.generator_confidence = "Fooocus", 0.95
        return
    # Stability Matrix: A1111 text plus its own JSON.
    if get("smproj") or get("parameters-json"):
        if get("parameters") and looks_like_a1111(get("parameters") or ""):
            info_from_a1111(get("parameters") or "", info)
        else:
            others.parse_generic_json(get("parameters-json") or "", info, "Stability Matrix")
        info.generator, info.generator_confidence = "Stability Matrix", 0.95
        return
    # Text carriers, in order of how specific they are.
    for key in _TEXT_CARRIERS:
        for value in cinfo.get_all(key):
            if _apply_text(value, info):
                if key == "parameters" and info.generator == "unknown" and "resolution" in (try_json(value) or {}):
                    info.generator, info.generator_confidence = "HuggingFace Space", 0.7
                return
    # EasyDiffusion: one PNG text chunk per field.
    fields = {e.key: e.value for e in cinfo.entries if e.source.startswith("png:")}
    if others.parse_easydiffusion(fields, info):
        return
    # Tensor.art and similar: JSON in generation_data.
    gd = get("generation_data")
    if gd and others.parse_generic_json(gd, info, "Tensor.art"):
        return


_PEEK = 64 * 1024


def _looks_like_generation_text(value: str) -> bool:
    # Head and tail only: a lower-cased copy of a 32 MiB value per leftover is memory for nothing.
    low = (value if len(value) <= 2 * _PEEK else value[:_PEEK] + "\n" + value[-_PEEK:]).lower()
    return any(k in low for k in ("steps", "seed", "sampler", "cfg", "prompt", "negative"))


def read_image(path: Path, *, stealth: bool = True) -> GenerationInfo:
    """Read the generation metadata of one image (PNG, JPEG, WebP by content).

    Returns a GenerationInfo with ``generator=None`` when the file carries no
    generation metadata (including empty or non-image files). Raises
    ``ImageReadError`` when the file is damaged and nothing could be recovered.
    """
    path = Path(path)
    try:
        cinfo = read_container(path)
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    except (ContainerError, struct.error, ValueError) as exc:
        raise ImageReadError(f"{path}: broken image ({exc})") from exc
    info = read_container_info(cinfo, path, stealth=stealth)
    _read_sidecars(path, info)
    if info.generator is None and cinfo.problems:
        over = "limit" in cinfo.problems[0]
        kind = cinfo.kind.upper() if cinfo.kind else "file"
        raise ImageReadError(f"{path}: {kind} over a safety limit ({cinfo.problems[0]})" if over else
                             f"{path}: damaged {kind} ({cinfo.problems[0]})",
                             hint="far beyond any real image (hostile or broken); nothing past the limit was read"
                                  if over else "the file is truncated or malformed; re-download or re-export it")
    return info


def read_container_info(cinfo: ContainerInfo, source: Path | bytes, *, stealth: bool = True) -> GenerationInfo:
    """Interpret an already-read container (shared by files and in-memory bytes).

    Embedded ComfyUI graphs are always extracted; when a text format was detected too, the graph fills the
    fields the text left empty (and an API prompt beside A1111-style text marks the image as ComfyUI's).
    Stealth pixels are read only when nothing else was found. A detected generator always has a
    ``prompt`` (possibly ``""``), so callers can tell "no prompt written" from "no metadata".
    """
    with parse_once():  # several parsers try each value: each is parsed once
        return _interpret(cinfo, source, stealth=stealth)


def _interpret(cinfo: ContainerInfo, source: Path | bytes, *, stealth: bool) -> GenerationInfo:
    info = GenerationInfo(path=str(source) if isinstance(source, Path) else None, container=cinfo.kind)
    info.raw = _raw_dict(cinfo.entries)
    info.warnings.extend(cinfo.problems + cinfo.warnings)
    if cinfo.kind is None:
        return info
    workflow, prompt_graph, _ = find_graphs(cinfo)
    info.workflow, info.prompt_graph = workflow, prompt_graph
    _detect(cinfo, info)
    if info.generator is None and (workflow or prompt_graph):
        info.generator, info.generator_confidence = "ComfyUI", 0.95 if prompt_graph else 0.8
        info_from_comfy(workflow, prompt_graph, info)
    elif info.generator == "Civitai" and prompt_graph and info.prompt is None:
        info_from_comfy(None, prompt_graph, info)
    elif workflow or prompt_graph:
        # Saver packs write both text and graphs; fill gaps from the graph.
        if info.generator in ("A1111", "Forge", "unknown") and prompt_graph:
            info.generator, info.generator_confidence = "ComfyUI", 0.9
        gap = GenerationInfo()
        info_from_comfy(workflow, prompt_graph, gap)
        for field in ("prompt", "negative_prompt", "seed", "steps", "cfg", "width", "height", "model"):
            if getattr(info, field) is None and getattr(gap, field) is not None:
                setattr(info, field, getattr(gap, field))
        if info.model is not None and info.model.name is None and gap.model is not None:
            info.model.name = gap.model.name
    apply_own_fields(source, info)  # the node pack's own document (and its sidecar)
    if info.generator is None and stealth:
        from comfyfixer.tools.imagemeta.stealth import read_stealth

        found = read_stealth(source, cinfo)
        if found:
            magic, text = found
            info.raw[f"stealth:{magic}"] = text
            if not others.parse_novelai(text, info) and not _apply_text(text, info):
                info.generator, info.prompt = "unknown", text
            if magic.startswith("stealth_png") and info.generator not in ("NovelAI", None):
                info.extra["stealth"] = magic
    if info.generator is None:
        leftovers = {k: v for k, v in info.raw.items() if _looks_like_generation_text(v) and len(v) > 20}
        if leftovers and any(k.lower() in ("parameters", "usercomment", "prompt", "generation_data") for k in leftovers):
            info.generator, info.generator_confidence = "unknown", 0.3
            info.warnings.append("generation data in an unknown format; see raw")
    if info.generator is not None:
        info.prompt = info.prompt if info.prompt is not None else ""
    return info


def _read_sidecars(path: Path, info: GenerationInfo) -> None:
    """``.json`` (save-node workflow), ``.txt`` (A1111 save_txt), ``.xmp`` next to the image."""
    for suffix in (".json", ".txt", ".xmp"):
        side = path.with_suffix(suffix)
        if not side.is_file() or side == path:
            continue
        try:
            if side.stat().st_size > SIDECAR_LIMIT:
                info.warnings.append(f"{side.name}: sidecar too large, skipped")
                continue
            text = side.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        info.raw[f"sidecar:{side.name}"] = text
        if suffix == ".json":
            obj = try_json(text)
            if is_ui_workflow(obj) and info.workflow is None:
                info.workflow = obj
            elif is_api_prompt(obj) and info.prompt_graph is None:
                info.prompt_graph = obj
            if info.generator is None and (info.workflow or info.prompt_graph):
                info.generator, info.generator_confidence = "ComfyUI", 0.7
                info_from_comfy(info.workflow, info.prompt_graph, info)
        elif info.generator is None and suffix == ".txt":
            _apply_text(text, info)
        elif info.generator is None and suffix == ".xmp":
            others.parse_drawthings(text, info)


def _is_image_file(path: Path) -> bool:
    """By extension, or by magic bytes for images with a wrong or missing extension."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    if path.suffix.lower() in (".json", ".txt", ".xmp", ".md", ".py"):
        return False
    try:
        with open(path, "rb") as fh:
            return sniff(fh.read(16)) is not None
    except OSError:
        return False


def iter_image_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given, plus image files found by walking the folders given (sorted, by content).

    Files named explicitly are yielded whatever they are (so the reader can report them); inside folders,
    hidden files and files that are neither image-named nor image-shaped (by magic bytes) are skipped.
    """
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and not child.name.startswith(".") and _is_image_file(child):
                    yield child
        else:
            yield p


def read_images(
    paths: Iterable[Path], *, stealth: bool = True, read: Callable[[Path], GenerationInfo] | None = None
) -> list[ImageReadResult]:
    """Read many files/folders; one bad file never stops the rest. ``read`` reads one file (default:
    :func:`read_image`; the CLI passes the registered capability)."""
    results: list[ImageReadResult] = []
    for p in iter_image_files(paths):
        try:
            info = read(p) if read is not None else read_image(p, stealth=stealth)
            results.append(ImageReadResult(path=str(p), info=info))
        except InputError as exc:
            results.append(ImageReadResult(path=str(p), error=str(exc)))
        except Exception as exc:  # a parser bug must not stop a batch
            log.exception("unexpected failure reading %s", p)
            results.append(ImageReadResult(path=str(p), error=f"{type(exc).__name__}: {exc}"))
    return results


@capability(command="image")
def read_image_metadata(inp: ReadImageInput, ctx: ToolContext) -> GenerationInfo:
    """Read how an AI image was made: generator (ComfyUI, A1111/Forge, NovelAI, InvokeAI,
    Fooocus, SwarmUI, Civitai, Draw Things, ...), positive and negative prompt, seed,
    steps, CFG, sampler and scheduler (also mapped to ComfyUI names), size, checkpoint
    and LoRAs with hashes, hires/refiner settings, and any embedded ComfyUI workflow.
    Works on PNG, JPEG and WebP (detected by content) and on hidden alpha-channel data.
    ``generator`` is null when the image carries no generation metadata.
    """
    del ctx  # an image file is all it reads
    return read_image(Path(inp.path).expanduser(), stealth=inp.stealth)


RAW_OUTPUT_LIMIT = 20_000


def summary(result: ImageReadResult) -> dict[str, object]:
    """The flat per-file object of ``comfyfixer image read --json``.

    Raw values longer than ``RAW_OUTPUT_LIMIT`` (20,000 characters) are cut with their full length noted,
    so one embedded 5 MB workflow does not swamp the output; the parsed fields are complete.
    """
    info = result.info
    if info is None:
        return {"path": result.path, "generator": None, "error": result.error}
    raw = {
        k: (v if len(v) <= RAW_OUTPUT_LIMIT else v[:RAW_OUTPUT_LIMIT] + f"…[{len(v)} chars]") if isinstance(v, str) else v
        for k, v in info.raw.items()
    }
    return {
        "path": result.path,
        "generator": info.generator,
        "generator_confidence": info.generator_confidence,
        "container": info.container,
        "prompt": info.prompt,
        "negative_prompt": info.negative_prompt,
        "seed": info.seed,
        "steps": info.steps,
        "cfg": info.cfg,
        "sampler": info.sampler,
        "scheduler": info.scheduler,
        "sampler_raw": info.sampler_raw,
        "scheduler_raw": info.scheduler_raw,
        "width": info.width,
        "height": info.height,
        "denoise": info.denoise,
        "model": {"name": info.model.name, "hashes": info.model.hashes} if info.model else None,
        "loras": [{"name": lo.name, "weight": lo.weight, "hashes": lo.hashes} for lo in info.loras],
        "has_workflow": info.has_workflow,
        "has_prompt_graph": info.has_prompt_graph,
        "warnings": info.warnings,
        "raw": raw,
        "error": result.error,
        **({"comfyfixer": info.extra["comfyfixer"]} if "comfyfixer" in info.extra else {}),
    }
