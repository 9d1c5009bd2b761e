"""``identify_model``: what a model is (family and role) from whatever the user has.

The input is one string; what it is decides where the answer comes from:

* an existing local file → its header (safetensors or GGUF, found by content; weights are never read);
* a Civitai URL, ``civitai:MODEL``, ``civitai:@VERSION``/``@VERSION`` or an AIR (``urn:air:…:civitai:M@V``)
  → Civitai's ``baseModel`` and ``type`` (needs the network);
* a Hugging Face repo or file URL (or ``hf:owner/name[/file]``) → its names, the folder its path names
  and the folder the catalogs file it under;
* a ModelScope repo or file URL → the same from its names, and the file's SHA256 and size from the
  repository listing when ModelScope is on;
* a hash (SHA256, or a short AutoV2/CRC32 kind) → Civitai's by-hash lookup;
* anything else → a file name, read with the catalogs (official templates, ComfyUI-Manager's list and
  the knowledge pack say which folder a known file goes in) and the name rules; a path that does not
  exist is said so, and the model folder it names is used.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, InputError, NotFound
from comfyfixer.tools.identify import rules as R
from comfyfixer.tools.identify.detect import (
    GIVE_MORE,
    GIVE_MORE_FOR_FILE,
    HEADER_CONFIDENCE,
    NAME_CONFIDENCE,
    family_from_civitai,
    family_from_name,
    finish,
    identify_header,
    identify_name,
)
from comfyfixer.tools.identify.models import Candidate, IdentifyInput, ModelIdentity
from comfyfixer.tools.modelfile import read_header
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

# A local LoRA is hashed for Civitai's by-hash lookup up to this size (LoRAs are megabytes to a few hundred;
# hashing a 20 GB checkpoint would take minutes for what its header already says).
MAX_HASHED_BYTES = 2 * 1024**3

_CIVITAI_URL = re.compile(r"civitai\.(?:com|green)/(?:api/download/)?models/(\d+)(?:[^?#]*)?(?:\?(?:.*&)?modelVersionId=(\d+))?",
                          re.I)
_CIVITAI_DOWNLOAD = re.compile(r"civitai\.(?:com|green)/api/download/models/(\d+)", re.I)
_CIVITAI_REF = re.compile(r"^(?:civitai:)?(\d+)?@(\d+)$|^civitai:(\d+)$", re.I)
_AIR = re.compile(r"urn:air:[^:]+:[^:]+:civitai:(\d+)(?:@(\d+))?", re.I)
_HASH = re.compile(r"^(?:sha256:)?([0-9a-f]{64}|[0-9a-f]{10}|[0-9a-f]{12}|[0-9a-f]{8})$", re.I)
_HF_REPO = re.compile(r"^(?:hf:|(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/)([\w.-]+/[\w.-]+)(?:/(.*))?$",
                      re.I)
# Sites whose model URLs identify reads; one of theirs that reached the name reader names no model.
_SITES = (("Civitai", "civitai."), ("Hugging Face", "huggingface.co"), ("Hugging Face", "hf.co"),
          ("ModelScope", "modelscope."))
_MODELSCOPE = re.compile(r"^(?:https?://)?(?:www\.)?modelscope\.(?:cn|ai)/", re.I)


@capability(command="identify")
def identify_model(inp: IdentifyInput, ctx: ToolContext) -> ModelIdentity:
    """Say what a model is: its family (sd15, sdxl, sd35, flux, wan, hunyuan_video, ltxv, qwen_image,
    hidream, …) and its role (checkpoint, diffusion_model, lora/lycoris, text_encoder, vae, controlnet,
    upscaler, clip_vision), with a confidence and the evidence.

    Give a local .safetensors/.gguf path (only its header is read: tensor names, shapes, metadata such
    as a LoRA's ss_base_model_version; a local LoRA is also looked up on Civitai by its SHA256 for its
    trigger words), a file name, a Civitai model/version URL, id or AIR, a Hugging Face or ModelScope
    repo/file URL, or a SHA256. IDENTIFIED means family and role are known; UNCERTAIN lists competing
    candidates (or says only one of the two is known), none of them picked. A file name alone is a hint,
    not proof.
    """
    text = inp.model.strip()
    if not text:
        raise InputError("nothing to identify", hint="give a model file, a file name, a URL or a hash")
    path = Path(text).expanduser()
    if "\n" not in text and len(text) < 4096 and path.is_file():
        return _civitai_for_file(ctx, path, identify_file(path))
    civitai = _civitai_ref(text)
    if civitai is not None:
        return _from_civitai(ctx, *civitai, given=text)
    if _MODELSCOPE.match(text):
        from comfyfixer.tools.modelscope import parse_modelscope_url

        ms = parse_modelscope_url(text)
        if ms is not None:
            return _from_modelscope(ctx, *ms)
    hf = _HF_REPO.match(text)
    if hf:
        return _from_hf(ctx, hf.group(1), hf.group(2) or "", text)
    match = _HASH.match(text)
    if match:
        return _from_hash(ctx, match.group(1).lower())
    return _from_name(ctx, text)


def identify_file(path: Path) -> ModelIdentity:
    """A local file by its header; a file whose header cannot be read falls back to its name."""
    try:
        header = read_header(path)
    except (InputError, OSError) as exc:
        # The folder it sits in is the next best hint (models/loras/x.safetensors is filed as a LoRA).
        ident = identify_name(path.name, source="file name (header not readable)", folder=_folder_in(path),
                              folder_source="the folder it is in")
        ident.evidence = [e.replace(GIVE_MORE, GIVE_MORE_FOR_FILE) for e in ident.evidence]
        ident.evidence.insert(0, _pickle_note(path) or f"header not read: {exc}")
        return finish(ident)
    ident = identify_header(header, path.name)
    named, pattern = family_from_name(path.name)
    if ident.family is None and named and (not ident.families_using or named in ident.families_using):
        ident.family = named
        ident.confidence = min(ident.confidence or HEADER_CONFIDENCE, 0.8)
        ident.evidence.append(f"the header fits several families; the name contains {pattern!r}: {named}")
    elif named and ident.family and named != ident.family:
        ident.evidence.append(f"note: the file name suggests {named}, the header says {ident.family} (the header wins)")
    return finish(ident)


def _folder_in(path: Path) -> str | None:
    """The nearest model folder ``path`` sits in (``models/loras/x.safetensors`` → ``loras``), or None."""
    return next((p.name for p in path.parents if p.name in R.FOLDER_ROLE), None)


def _pickle_note(path: Path) -> str | None:
    """Why a PyTorch pickle (.ckpt/.pt/.pth/.bin: a zip of pickles, or a bare pickle) is read by its name only."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError:
        return None
    if magic.startswith((b"PK\x03\x04", b"\x80")):
        return ("a PyTorch pickle file: its weights are not opened, since loading a pickle can run code; "
                "only its name is read (a .safetensors copy of it would be read by its header)")
    return None


def _civitai_for_file(ctx: ToolContext, path: Path, ident: ModelIdentity) -> ModelIdentity:
    """A local LoRA's Civitai version, looked up by its SHA256 when online: its trigger words, Civitai's
    base model label, and the version (for workflows-for's Civitai images). The header keeps the last word
    on the family. The hash is kept in the inventory cache (an unchanged file is hashed once)."""
    client = ctx.civitai()
    if client is None or ident.role not in ("lora", "lycoris"):
        return ident
    try:
        if path.stat().st_size > MAX_HASHED_BYTES:
            return ident
        ident.sha256 = _sha256(ctx, path.resolve())
    except OSError:
        return ident
    try:
        version, _ = client.by_hash(ident.sha256)
    except NotFound:
        ident.evidence.append("Civitai does not know its SHA256 (not published there, or the file was changed)")
        return ident
    except ComfyFixerError as exc:
        ident.evidence.append(f"the Civitai lookup by SHA256 failed: {exc.message}")
        return ident
    ident.civitai_version_id, ident.trained_words = version.id, list(version.trained_words)
    ident.base_model = ident.base_model or version.base_model
    ident.evidence.append(f"Civitai knows its SHA256: version {version.id}, baseModel {version.base_model!r}")
    family = family_from_civitai(version.base_model)
    if family and ident.family is None:
        ident.family, ident.confidence = family, max(ident.confidence, 0.9)
        ident.candidates = [c for c in ident.candidates if c.family == family][:1]
    elif family and family != ident.family:
        ident.evidence.append(f"note: Civitai files it under {family}, the header says {ident.family} (the header wins)")
    return finish(ident)


def _sha256(ctx: ToolContext, path: Path) -> str:
    """The file's SHA256, through the inventory cache when caching is on."""
    from comfyfixer.tools.inventory.cache import InventoryCache
    from comfyfixer.tools.inventory.models import file_sha256

    where = ctx.inventory_cache_dir()
    if where is None:
        return file_sha256(path)
    with InventoryCache(where) as cache:
        return file_sha256(path, cache)


# --- catalogs and names ----------------------------------------------------------------------------
def _catalog_folder(ctx: ToolContext, name: str) -> tuple[str | None, str | None]:
    """The folder the official templates / Manager's list / knowledge notes file ``name`` under."""
    from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs

    index = ctx.memo("identify:model-index", lambda: build_model_index(ctx.catalog(), find_template_dirs()))
    folders = [c.folder for c in index.lookup(name) if c.folder]
    if folders:
        best = max(set(folders), key=folders.count)
        return best, "the official templates / ComfyUI-Manager's model list"
    notes = ctx.notes()
    for hint in notes.lookup(name) if notes else []:
        if hint.folder:
            return hint.folder, f"the knowledge pack ({hint.path})"
    return None, None


def _from_name(ctx: ToolContext, name: str) -> ModelIdentity:
    """A file name, with the folder the catalogs file it under; a path that is not there is said so, and the
    model folder it names stands in when the catalogs do not know the file."""
    unix = name.replace("\\", "/")
    base = unix.rstrip("/").rsplit("/", 1)[-1] or name
    url = "://" in unix
    site = next((s for s, host in _SITES if host in unix.lower()), None) if url else None
    if site or (not url and Path(name).expanduser().is_dir()):
        ident = ModelIdentity(status="UNKNOWN", source="file name", name=name)
        ident.evidence.append(f"a {site} URL that names no model: {GIVE_MORE}" if site else
                              f"{name} is a folder, not a model file: give one of the files in it")
        return finish(ident)
    folder, why = _catalog_folder(ctx, base)
    if folder is None and "/" in unix and not url:
        folder, why = _folder_in(Path(unix)), "the folder in the path"
    ident = identify_name(base, folder=folder, folder_source=why)
    if url:
        ident.evidence.insert(0, "a URL of a site we do not read: only its file name was used")
    elif "/" in unix:
        ident.evidence.insert(0, f"no file at {name}: only its name was read (check the path)")
    return ident


def _from_hf(ctx: ToolContext, repo: str, rest: str, given: str) -> ModelIdentity:
    """A Hugging Face repo or file URL: the file name first, the repository id when the name says
    nothing. No request is made: names are what Hugging Face URLs carry."""
    from comfyfixer.tools.huggingface.client import parse_hf_url

    if repo.split("/", 1)[0].lower() in ("datasets", "spaces"):
        kind = "dataset" if repo.lower().startswith("datasets") else "Space"
        ident = ModelIdentity(status="UNKNOWN", source="Hugging Face names", name=given)
        ident.evidence.append(f"a Hugging Face {kind}, not a model repository; {GIVE_MORE}")
        return finish(ident)
    parsed = parse_hf_url(given if "://" in given else f"https://{given}") if not given.lower().startswith("hf:") \
        else None
    file = parsed[2] if parsed else rest.split("/", 2)[-1] if rest.startswith(("resolve/", "blob/")) else rest
    if not parsed and rest.split("/", 1)[0] in ("tree", "commits", "discussions", "settings"):
        file = ""  # a folder or repository page, not a file
    return _from_repo_names(ctx, "Hugging Face", repo, file.split("?", 1)[0])


def _from_repo_names(ctx: ToolContext, site: str, repo: str, file: str) -> ModelIdentity:
    """A file (or only a repository) of a model hub, by its names: the folder the file's path names
    (``split_files/vae/…``), else the folder the catalogs file it under; the repository id gives the family
    when the file name does not."""
    from comfyfixer.tools.resolver.folders import from_path

    name = file.rsplit("/", 1)[-1] if file else repo
    folder, why = (from_path(file), "its path in the repository") if file else (None, None)
    if file and folder is None:
        folder, why = _catalog_folder(ctx, name)
    ident = identify_name(name, source=f"{site} names", folder=folder, folder_source=why)
    if ident.family is None:
        family, pattern = family_from_name(repo)
        if family:
            ident.family = family
            ident.confidence = max(ident.confidence, NAME_CONFIDENCE)
            ident.evidence = [e for e in ident.evidence if not e.startswith("nothing in the name")]
            ident.evidence.append(f"the repository id {repo!r} contains {pattern!r}")
    ident.evidence.insert(0, f"{site} repository {repo}" + (f", file {file}" if file else ""))
    return finish(ident)


def _from_modelscope(ctx: ToolContext, repo: str, revision: str, file: str) -> ModelIdentity:
    """A ModelScope repo or file URL by its names; with ModelScope on, the repository listing adds the
    file's SHA256 and size (ModelScope publishes them for LFS files). A listing that fails is a line of
    evidence, not the end of the answer."""
    ident = _from_repo_names(ctx, "ModelScope", repo, file)
    client = ctx.modelscope()
    if client is None or not file:
        return ident
    try:
        listed = next((f for f in client.list_files(repo, revision=revision) if f.path == file), None)
    except NotFound as exc:
        ident.evidence.append(f"{exc.message} (check the URL)")
        return ident
    except ComfyFixerError as exc:  # unreachable, 5xx, a web page: the names still say what they say
        ident.evidence.append(f"the ModelScope listing failed ({exc.message}): read by its names only")
        return ident
    if listed is None:
        ident.evidence.append(f"ModelScope lists no file {file} in {repo} at {revision}")
    else:
        ident.sha256 = listed.sha256.lower() if listed.sha256 else None
        size = f"{listed.size / 1e9:.1f} GB" if listed.size else "size not given"
        ident.evidence.append(f"ModelScope lists it: {size}" + (", with its SHA256" if listed.sha256 else ""))
    return ident


# --- Civitai ---------------------------------------------------------------------------------------
def _civitai_ref(text: str) -> tuple[int | None, int | None] | None:
    """(model id, version id) named by a Civitai URL, AIR or ``civitai:`` reference."""
    m = _AIR.search(text)
    if m:
        return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    m = _CIVITAI_DOWNLOAD.search(text)
    if m:
        return None, int(m.group(1))
    m = _CIVITAI_URL.search(text)
    if m:
        return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    m = _CIVITAI_REF.match(text)
    if m:
        if m.group(3):
            return int(m.group(3)), None
        return int(m.group(1)) if m.group(1) else None, int(m.group(2))
    return None


def _offline(name: str, what: str) -> ModelIdentity:
    """UNKNOWN with the reason: a Civitai lookup was needed and the network is off."""
    ident = ModelIdentity(status="UNKNOWN", source="Civitai", name=name)
    ident.evidence.append(f"{what} needs Civitai, and offline mode is on (COMFYFIXER_OFFLINE or `offline` in "
                          "comfyfixer.toml); turn it off to look it up")
    return finish(ident)


def _version_identity(version: Any, model_type: str | None, file: Any, *, given: str, how: str) -> ModelIdentity:
    """A Civitai model version as an identity: family from ``baseModel``, role from the model's
    ``type``, trigger words and the file's SHA256."""
    name = (file.name if file is not None and getattr(file, "name", None) else None) or version.name or given
    ident = ModelIdentity(status="UNKNOWN", source=f"Civitai {how}", name=str(name))
    family = family_from_civitai(version.base_model)
    role = R.CIVITAI_TYPE_ROLE.get((model_type or "").lower(), "unknown")
    ident.family, ident.role = family, role
    ident.base_model = version.base_model
    ident.civitai_version_id = version.id
    ident.trained_words = list(version.trained_words)
    ident.sha256 = file.sha256 if file is not None else None
    ident.evidence.append(f"Civitai version {version.id}: baseModel {version.base_model!r}, type {model_type!r}")
    if role == "checkpoint":
        ident.evidence.append("Civitai's 'Checkpoint' also covers diffusion-model-only uploads; the header tells")
    ident.confidence = 0.95 if how == "by hash" else 0.9
    if family is None and version.base_model:
        ident.evidence.append(f"no family rule for Civitai's base model {version.base_model!r}")
    return finish(ident)


def _from_civitai(ctx: ToolContext, model_id: int | None, version_id: int | None, *, given: str) -> ModelIdentity:
    """A Civitai model (its newest version) or version, by id."""
    client = ctx.civitai()
    if client is None:
        return _offline(given, "a Civitai id")
    try:
        if version_id is not None:
            version = client.get_version(version_id)
            model_type = version.model.type if version.model else None
        else:
            assert model_id is not None
            model = client.get_model(model_id)
            if not model.model_versions:
                raise InputError(f"Civitai model {model_id} has no published version")
            version, model_type = model.model_versions[0], model.type
    except ComfyFixerError:
        raise
    primary = next((f for f in version.files if getattr(f, "primary", False)), version.files[0] if version.files else None)
    return _version_identity(version, model_type, primary, given=given, how="version" if version_id else "model")


def _from_hash(ctx: ToolContext, value: str) -> ModelIdentity:
    """Civitai's by-hash lookup; a short hash keeps a candidate saying it can collide."""
    client = ctx.civitai()
    if client is None:
        return _offline(value, "a hash lookup")
    version, file = client.by_hash(value)
    model_type = version.model.type if version.model else None
    ident = _version_identity(version, model_type, file, given=value, how="by hash")
    if len(value) < 64:
        ident.candidates = ident.candidates or [Candidate(family=ident.family, role=ident.role, confidence=0.7,
                                                          why="a short hash can collide; give the SHA256 to be sure")]
    return ident
