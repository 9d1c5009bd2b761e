"""What a model filename says: family, version, precision, quantisation, and the repo search terms it implies.

``wan2.2_fun_inpaint_high_noise_14B_fp8_scaled.safetensors`` → family ``wan``, version ``2.2``,
params ``14b``, precision ``fp8``, scaled; search terms ``wan2.2``, ``wan_2.2``, ``wan`` ...

Pure string work with no network: the Hugging Face stage searches with :func:`search_terms`, and the
near-miss scoring uses :func:`variant_differences` to say *why* a similar file is not the one asked for
(an fp16 file is not an fp8 one, even if the names differ by four characters).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pydantic import BaseModel, Field

from comfyfixer.tools.model_folders import MODEL_FILE_EXTENSIONS
from comfyfixer.tools.precision import find_tag, strip_tags

# The files a resolver may be asked for: model files, plus the .yaml configs CheckpointLoader reads.
MODEL_EXTENSIONS = (*MODEL_FILE_EXTENSIONS, ".yaml")

_SEP = re.compile(r"[_\-\s]+")
_VERSION = re.compile(r"(?<![0-9.])v?(\d+\.\d+(?:\.\d+)*)|(?<![a-z0-9])v(\d+)(?![a-z0-9])", re.I)
_PARAMS = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z0-9])", re.I)
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)*", re.I)
# Words that describe a variant, not a family; never used as a search term alone.
NOISE_WORDS = frozenset({
    "fp8", "fp16", "bf16", "fp32", "fp4", "int8", "int4", "nf4", "scaled", "e4m3fn", "e5m2", "fast", "model",
    "safetensors", "gguf", "pruned", "ema", "emaonly", "only", "full", "the", "and", "v", "comfyui", "comfy",
    "diffusion", "pytorch", "split", "files", "lora", "vae", "base", "final", "convrot", "mixed", "sharded",
})


# Model families whose name in a filename points at the repo that holds it.
KNOWN_FAMILIES = frozenset({
    "flux", "wan", "qwen", "hunyuan", "ltx", "ltxv", "hidream", "lumina", "sdxl", "cosmos", "mochi", "kandinsky",
    "chroma", "omnigen", "cascade", "pixart", "auraflow", "kolors", "ace", "acestep", "stable", "sd3", "trellis",
    "anima", "seedvr", "ernie", "gemma", "llama", "mistral", "umt5", "t5xxl", "clip", "sam", "dino", "flux2",
})


class FilenameInfo(BaseModel):
    """Facts read from a model filename (all lower-case).

    ``basename``/``stem``/``ext`` split the name (``ext`` with its dot); ``subfolder`` is what came before the
    last ``/``; ``scaled`` marks ``_scaled`` variants; ``versions`` are version numbers in order of
    appearance (``"2.2"``, ``"3"``); ``family`` is the leading name (``wan``, ``flux``…) or None.
    """

    filename: str = Field(description="As given (may include a sub-folder).")
    basename: str
    stem: str
    ext: str
    subfolder: str | None = None
    precision: str | None = Field(None, description="fp8 | fp16 | bf16 | fp32 | fp4 | int8 | int4 | nf4")
    precision_raw: str | None = Field(None, description="As spelled, e.g. fp8_e4m3fn.")
    scaled: bool = False
    gguf_quant: str | None = Field(None, description="GGUF quantisation, e.g. q4_k_m.")
    versions: list[str] = Field(default_factory=list)
    params: str | None = Field(None, description="Parameter count token, e.g. 14b.")
    words: list[str] = Field(default_factory=list, description="Alphabetic words, variant words removed.")
    family: str | None = None
    core: str = Field("", description="The stem without precision/quantisation tokens.")


def split_name(filename: str) -> tuple[str, str | None]:
    """``(basename, subfolder)`` of a workflow value; backslashes count as separators."""
    p = PurePosixPath(filename.replace("\\", "/"))
    sub = str(p.parent) if str(p.parent) not in (".", "") else None
    return p.name, sub


def analyze(filename: str) -> FilenameInfo:
    """Read the facts of :class:`FilenameInfo` from ``filename`` (a workflow value, sub-folder allowed).

    Never raises: an odd name just gives fewer facts. Precision spellings are tried longest first, so
    ``fp8_e4m3fn`` is recognised as such rather than as ``fp8`` with a leftover word.
    """
    basename, sub = split_name(filename)
    low = basename.lower()
    ext = ""
    for e in MODEL_EXTENSIONS:
        if low.endswith(e):
            ext = e
            break
    if not ext and "." in low:
        ext = "." + low.rsplit(".", 1)[1]
    stem = low[: len(low) - len(ext)] if ext else low
    core = stem
    precision = raw = None
    tag = find_tag(stem, quant=False)  # a float or integer precision (the table: tools/precision.py)
    if tag:
        precision, raw = tag.tag.label, tag.tag.spelled
        core = strip_tags(core, quant=False)  # every spelling: "fp8_scaled_e4m3fn" leaves no "e4m3fn" behind
    scaled = bool(re.search(r"(?<![a-z0-9])scaled(?![a-z0-9])", stem))
    core = re.sub(r"(?<![a-z0-9])scaled(?![a-z0-9])", "", core)
    quant = None
    if ext == ".gguf":
        tag = find_tag(stem, gguf=True)  # the GGUF type as GGUF files spell it: q4_k_m, f16, bf16, f32
        if tag:
            quant = tag.tag.spelled
            core = core.replace(quant, "")
    core = _SEP.sub("_", core).strip("_")
    versions = [m.group(1) or m.group(2) for m in _VERSION.finditer(stem.replace("_", " ").replace("-", " "))]
    pm = _PARAMS.search(stem.replace("_", " ").replace("-", " "))
    words = [w.lower() for w in _WORD.findall(core) if w.isalpha() and w.lower() not in NOISE_WORDS]
    first = next((p for p in re.split(r"[_\-\s]+", core) if p), "")
    lead = re.match(r"[a-z]+", first)
    family = (lead.group(0) if lead and len(lead.group(0)) >= 3 else first) or (words[0] if words else None)
    return FilenameInfo(
        filename=filename, basename=basename, stem=stem, ext=ext, subfolder=sub, precision=precision,
        precision_raw=raw, scaled=scaled, gguf_quant=quant, versions=versions,
        params=(pm.group(1) + pm.group(2).lower()) if pm else None, words=words, family=family, core=core,
    )


def search_terms(info: FilenameInfo, *, limit: int = 7) -> list[str]:
    """Repo-search terms, most specific first: the leading name parts in the separator styles repos use.

    At most ``limit`` terms from the leading parts (the family term kept last as the broadest net), then
    terms for other known model families named later in the name (a file made for another model often lives
    in that model's repo). Terms shorter than three characters are dropped, and so are noise words among the
    leading terms.
    """
    parts = [p for p in re.split(r"[_\-\s]+", info.core) if p]
    terms: list[str] = []

    def add(t: str) -> None:
        """Append ``t`` (trimmed) unless it is too short, already present or a noise word."""
        t = t.strip("_-. ")
        if len(t) >= 3 and t not in terms and t not in NOISE_WORDS:
            terms.append(t)

    if parts:
        add(parts[0])
    fam = info.family
    if fam:
        lead = re.match(r"([a-z]+)[_\-]?(\d+(?:\.\d+)*)", info.core)
        if lead and lead.group(1) == fam:
            seps = ("_", "-", "") if "." in lead.group(2) else ("_", "-", "", ".")  # "FLUX.2-…" style
            for sep in seps:
                add(f"{fam}{sep}{lead.group(2)}")
    if len(parts) >= 2:
        for sep in ("-", "_"):
            add(sep.join(parts[:2]))
    if fam:
        add(fam)
    if len(terms) > limit:  # keep the family term: it is the broadest net
        terms = [*terms[: limit - 1], terms[-1]]
    # A file made for another model often names it further on: "gemma4-…-ltx-2.5-…" lives with LTX-2.5.
    extra: list[str] = []
    for i, part in enumerate(parts[1:], start=1):
        lead = re.match(r"([a-z]+)(\d+(?:\.\d+)*)?$", part)
        if not lead or lead.group(1) not in KNOWN_FAMILIES or lead.group(1) == fam:
            continue
        nxt = parts[i + 1] if i + 1 < len(parts) else ""
        if lead.group(2):
            extra += [part, f"{lead.group(1)}-{lead.group(2)}", f"{lead.group(1)}_{lead.group(2)}"]
        elif re.fullmatch(r"\d+(?:\.\d+)*", nxt):
            extra += [f"{part}-{nxt}", f"{part}_{nxt}"]
        extra.append(lead.group(1))
    for t in extra:
        if t not in terms and len(t) >= 3:
            terms.append(t)
    return terms


def precision_label(info: FilenameInfo) -> str:
    """``"fp8 scaled"``, ``"fp16"``, ``"unspecified precision GGUF Q4_K_M"``: the variant in words, for
    reasons.
    """
    bits = [info.precision or "unspecified precision"]
    if info.scaled:
        bits.append("scaled")
    if info.gguf_quant:
        bits.append(f"GGUF {info.gguf_quant.upper()}")
    return " ".join(bits)


def variant_differences(want: FilenameInfo, got: FilenameInfo) -> list[str]:
    """Why ``got`` is a different variant of ``want``: precision, scaling, quantisation, version, size.

    One short phrase per difference (format, version and parameter count too); ``[]`` when nothing the
    filenames say differs. Each difference lowers a near miss's score in the resolver.
    """
    out: list[str] = []
    if want.precision != got.precision and (want.precision or got.precision):
        out.append(f"precision {got.precision or 'unspecified'} ≠ wanted {want.precision or 'unspecified'}")
    if want.scaled != got.scaled:
        out.append("scaled text-encoder variant" if got.scaled else "not the scaled variant")
    if want.gguf_quant != got.gguf_quant:
        out.append(f"quantisation {got.gguf_quant or 'none'} ≠ wanted {want.gguf_quant or 'none'}")
    if want.ext != got.ext:
        out.append(f"format {got.ext} ≠ wanted {want.ext}")
    if want.versions and got.versions and want.versions != got.versions:
        out.append(f"version {'/'.join(got.versions)} ≠ wanted {'/'.join(want.versions)}")
    if want.params and got.params and want.params != got.params:
        out.append(f"size {got.params} ≠ wanted {want.params}")
    return out


# --- base model families ------------------------------------------------------------------------

_BASE_PATTERNS = [
    ("sdxl", re.compile(r"sdxl|sd_xl|xl_base|pony|illustrious|\bil\b|noobai", re.I)),
    ("sd1.5", re.compile(r"sd15|sd_15|sd1\.5|sd-1-5|v1-5|1\.5", re.I)),
    ("sd3", re.compile(r"sd3|sd_3", re.I)),
    ("flux", re.compile(r"flux", re.I)),
    ("wan", re.compile(r"wan", re.I)),
    ("hunyuan", re.compile(r"hunyuan", re.I)),
    ("qwen-image", re.compile(r"qwen.?image", re.I)),
    ("ltx", re.compile(r"ltx", re.I)),
]


def base_family(text: str | None) -> str | None:
    """Coarse base-model family of a filename or a source's base-model label (``SDXL 1.0`` → ``sdxl``).

    Pony, Illustrious and NoobAI count as SDXL (they share its architecture). First match wins, so the
    order of ``_BASE_PATTERNS`` matters. None when nothing is recognised: no conflict is then claimed.
    """
    if not text:
        return None
    for fam, pat in _BASE_PATTERNS:
        if pat.search(text):
            return fam
    return None
