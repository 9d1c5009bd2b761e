"""What precision a model file's name says: one table of the tags names carry, for every reader of them.

``wan2.1_t2v_14B_fp8_e4m3fn_scaled.safetensors`` says ``fp8`` (one byte per weight),
``flux1-dev-Q4_K_S.gguf`` says the GGUF quantisation ``q4_k_s`` (144 bytes per 256 weights). Three
readers use the table, each for its own answer: ``review`` labels a model (``fp8``, ``GGUF``) and sizes
a swap between two (bits per weight), ``fit`` sizes a file it cannot read (bytes per parameter), and
the resolver strips the tag from a name's core and tells two variants apart (``precision``, ``gguf_quant``).

How names are read, decided from the names in the official templates, the ComfyUI-Manager catalog and
the recorded Hugging Face listings (``tests/test_precision.py`` holds them):

* Only the file's own name counts, not its folders: ``gemma-3-12b-it-qat-q4_0-unquantized/model.safetensors``
  holds bf16 weights, and a repository named ``stable-diffusion-3.5-fp8`` holds fp16 CLIPs.
* Float tags count wherever they stand, joined to other words or not: ``fp8mixed`` (Comfy-Org's
  mixed-precision files), ``LooseControlfp16``, ``NiPrunedFp32Fix``. Integer tags (``int8``, ``int4``,
  ``nf4``) count joined to what follows them, never right after a letter: ``point4_style`` is no int4
  name (no real name joins them to a word before). Tags that short
  words could contain (``f16``, ``f32`` and the GGUF quantisations ``q4_k_m``, ``iq2_xs``) count only
  apart from other letters and digits.
* Spellings are tried in table order: GGUF quantisations first, then the fewest bits first (a name
  that says two, ``int8-bf16``, is read as the quantised one), each precision's longest spelling
  first (``fp8_e4m3fn_fast`` before ``fp8``, ``nvfp4`` before ``fp4``, ``bf16`` before ``f16``).
* Not tags: ``convrot`` (a method ComfyUI applies to int8 weights; every such name also says
  ``int8``), ``half`` (no real name uses it; LoRA names such as ``half-body`` do), ``mixed`` and
  ``scaled`` (the resolver reads ``scaled`` itself), ``w4a8_gptq`` (Comfy-Org's
  ``qwen3.5_9b_w4a8_gptq`` is 9.08 GB for 9 B parameters: the name's 4 bits are not its size).

Bytes per parameter: GGUF quantisations from the ggml block sizes ``modelfile.GGML_TYPES`` reads files
with (K-quant mixes ``_S``/``_M``/``_L``/``_XL`` at their base type's size, as llama.cpp names them; the
``IQ2_M``/``IQ3_XS``/``IQ3_M`` mixes at the IQ2_S/IQ3_S size they are built on); 4-bit floats at
0.56 (4 bits plus a scale per block, nvfp4's 4.5 bits); fp8 and int8 at one byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from comfyfixer.tools.modelfile import GGML_TYPES

_GGML_SIZES = {name: size / block for name, block, size in GGML_TYPES.values()}
FP4_BYTES = 0.56  # nvfp4: 4 bits plus an fp8 scale per 16 weights (4.5 bits); NF4 likewise with its block scales


@dataclass(frozen=True)
class Tag:
    """One way a precision is spelled in file names (lower case) and what it means.

    ``label`` is the normal name (``fp8``, ``bf16``, ``q4_k_m``); ``quant`` marks a GGUF quantisation
    type (not a float or integer dtype); ``gguf`` marks a spelling GGUF files use for their type
    (``q4_k_m``, ``f16``, ``bf16``, ``f32``); ``bounded`` tags count only apart from other letters and digits.
    """

    spelled: str
    label: str
    bytes_per_param: float
    quant: bool = False
    gguf: bool = False
    bounded: bool = False
    after_letter: bool = True  # False: not right after a letter ("point4" holds no int4)

    @property
    def bits(self) -> float:
        """Bits per weight (a rough size ratio between two precisions)."""
        return self.bytes_per_param * 8


def _quant(spelled: str, ggml: str) -> Tag:
    """A GGUF quantisation file type, sized as the ggml tensor type it is built on."""
    return Tag(spelled, spelled, _GGML_SIZES[ggml], quant=True, gguf=True, bounded=True)


_K_QUANTS = [(f"q{n}_k{mix}", f"Q{n}_K") for n in (2, 3, 4, 5, 6) for mix in ("_xl", "_s", "_m", "_l", "")]
TAGS: tuple[Tag, ...] = (
    # GGUF quantisations (longest first within each base type).
    *(_quant(s, g) for s, g in _K_QUANTS),
    _quant("q8_0", "Q8_0"), _quant("q5_0", "Q5_0"), _quant("q5_1", "Q5_1"), _quant("q4_0", "Q4_0"),
    _quant("q4_1", "Q4_1"),
    _quant("iq1_s", "IQ1_S"), _quant("iq1_m", "IQ1_M"), _quant("iq2_xxs", "IQ2_XXS"), _quant("iq2_xs", "IQ2_XS"),
    _quant("iq2_s", "IQ2_S"), _quant("iq2_m", "IQ2_S"), _quant("iq3_xxs", "IQ3_XXS"), _quant("iq3_xs", "IQ3_S"),
    _quant("iq3_s", "IQ3_S"), _quant("iq3_m", "IQ3_S"), _quant("iq4_nl", "IQ4_NL"), _quant("iq4_xs", "IQ4_XS"),
    _quant("tq1_0", "TQ1_0"), _quant("tq2_0", "TQ2_0"),
    # 4-bit.
    Tag("nvfp4", "fp4", FP4_BYTES), Tag("mxfp4", "fp4", FP4_BYTES), Tag("fp4", "fp4", FP4_BYTES),
    Tag("nf4", "nf4", FP4_BYTES, after_letter=False), Tag("int4", "int4", FP4_BYTES, after_letter=False),
    # 8-bit.
    Tag("fp8_e4m3fn_fast", "fp8", 1.0), Tag("fp8_e4m3fn", "fp8", 1.0), Tag("fp8_e5m2", "fp8", 1.0),
    Tag("fp8", "fp8", 1.0), Tag("e4m3fn", "fp8", 1.0), Tag("e4m3", "fp8", 1.0), Tag("e5m2", "fp8", 1.0),
    Tag("int8", "int8", 1.0, after_letter=False),
    # 16-bit.
    Tag("bfloat16", "bf16", 2.0), Tag("bf16", "bf16", 2.0, gguf=True), Tag("float16", "fp16", 2.0),
    Tag("fp16", "fp16", 2.0), Tag("f16", "fp16", 2.0, gguf=True, bounded=True),
    # 32-bit.
    Tag("float32", "fp32", 4.0), Tag("fp32", "fp32", 4.0), Tag("f32", "fp32", 4.0, gguf=True, bounded=True),
)
BY_SPELLING = {t.spelled: t for t in TAGS}
_PATTERNS = tuple(
    (t, re.compile(rf"(?<![a-z0-9]){re.escape(t.spelled)}(?![a-z0-9])" if t.bounded
                   else (r"" if t.after_letter else r"(?<![a-z])") + re.escape(t.spelled)))
    for t in TAGS)


@dataclass(frozen=True)
class Found:
    """A tag found in a name: the tag and where it stands in the (lower-case) base name."""

    tag: Tag
    start: int
    end: int


def base_name(filename: str) -> str:
    """The lower-case file name without its folders (``/`` or ``\\``): the part whose tags count."""
    return filename.lower().replace("\\", "/").rsplit("/", 1)[-1]


@lru_cache(maxsize=8192)  # a workflow names few files, each many times
def _find(name: str, quant: bool | None, gguf: bool | None) -> Found | None:
    for tag, pattern in _PATTERNS:
        if (quant is not None and tag.quant != quant) or (gguf is not None and tag.gguf != gguf):
            continue
        m = pattern.search(name)
        if m:
            return Found(tag, m.start(), m.end())
    return None


def find_tag(filename: str, *, quant: bool | None = None, gguf: bool | None = None) -> Found | None:
    """The first tag of :data:`TAGS` a file name carries, or None. ``quant=False`` skips GGUF
    quantisations, ``quant=True`` looks only for them; ``gguf=True`` only for spellings GGUF files
    use for their type (``q4_k_m``, ``f16``, ``bf16``, ``f32``)."""
    return _find(base_name(filename), quant, gguf)


def bytes_per_param(filename: str) -> float | None:
    """Bytes per parameter the name's tag states (``fp8`` → 1, ``Q4_K_M`` → 144/256), or None."""
    found = find_tag(filename)
    return found.tag.bytes_per_param if found else None


def bits_per_param(filename: str) -> float | None:
    """Bits per weight the name's tag states (``fp16`` → 16, ``Q8_0`` → 8.5), or None."""
    found = find_tag(filename)
    return found.tag.bits if found else None


def strip_tags(text: str, *, quant: bool | None = None, gguf: bool | None = None) -> str:
    """``text`` (lower case) without any tag of the table (the same filters as :func:`find_tag`):
    ``wan21-wanmove_fp8_scaled_e4m3fn_kj`` → ``wan21-wanmove__scaled__kj``."""
    for tag, pattern in _PATTERNS:
        if (quant is None or tag.quant == quant) and (gguf is None or tag.gguf == gguf):
            text = pattern.sub("", text)
    return text
