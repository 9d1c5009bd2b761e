"""Parser for A1111-style ``parameters`` text (A1111, Forge, reForge, SD.Next, Civitai,
ComfyUI saver packs that imitate it).

Grammar: prompt lines, optional ``Negative prompt:`` lines, then one settings line
``Key: value, Key: value``. Values may be JSON-quoted strings or unquoted JSON
objects/arrays (``Hashes: {...}``, ``Civitai resources: [...]``), so the settings
line is scanned with balanced quotes and brackets before splitting on commas.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from typing import Any

from comfyfixer.tools.imagemeta.graphs import try_json
from comfyfixer.tools.imagemeta.models import (
    EmbeddingRef,
    GenerationInfo,
    HiresInfo,
    LoraRef,
    ModelInfo,
    RefinerInfo,
)
from comfyfixer.tools.imagemeta.samplers import map_sampler, map_scheduler
from comfyfixer.tools.jsontext import value_end

# Keys that mark a settings line; at least two must be present.
_CORE_KEYS = {"steps", "sampler", "cfg scale", "seed", "size", "model", "model hash", "schedule type", "ensd", "denoising strength"}
_KEY_RE = re.compile(r"\s*([A-Za-z][\w \-/().+]*?):\s*")
_LORA_TAG = re.compile(r"<(lora|lyco|locon|hypernet):([^:>]+)(?::([-\d.]+))?(?::[^>]*)?>", re.I)


def split_settings(line: str) -> list[tuple[str, str]]:
    """``Key: value, Key: "quoted, value", Key: {json}`` → [(key, value)], balanced scan.

    One pass over the line, no regex backtracking over the whole text: a quoted value is JSON-decoded
    (so ``\\"`` and ``\\n`` come back as the characters they stand for), a ``{…}``/``[…]`` value is kept
    verbatim up to its matching bracket (quotes inside respected), anything else runs to the next comma.
    Text that is not ``Key:`` is skipped up to the next comma. Repeated keys are all returned, in order.
    """
    out: list[tuple[str, str]] = []
    i, n = 0, len(line)
    while i < n:
        m = _KEY_RE.match(line, i)
        if not m:
            # Not a key: skip to the next comma (stray text).
            j = line.find(",", i)
            if j < 0:
                break
            i = j + 1
            continue
        key = m.group(1).strip()
        i = m.end()
        start = i
        if i < n and line[i] == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
            raw = line[start:i]
            try:
                value = json.loads(raw)
                if not isinstance(value, str):
                    value = raw
            except ValueError:
                value = raw.strip('"')
        elif i < n and line[i] in "{[":
            end = value_end(line, i)
            i = n if end is None else end  # an unclosed value runs to the end of the line
            value = line[start:i]
        else:
            j = line.find(",", i)
            j = n if j < 0 else j
            value = line[start:j].strip()
            i = j
        out.append((key, value.strip() if isinstance(value, str) else value))
        # Move past the separating comma.
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] == ",":
            i += 1
    return out


def _is_settings_line(line: str) -> bool:
    """At least two core A1111 keys: one ``Key: value`` pair is too common in prompts to count."""
    pairs = split_settings(line)
    keys = {k.lower() for k, _ in pairs}
    return len(keys & _CORE_KEYS) >= 2


def _last_line(text: str) -> str:
    """The last non-blank line, found from the end (no copy of a long text)."""
    t = text.rstrip()
    return t[max(t.rfind("\n"), t.rfind("\r")) + 1 :]


def looks_like_a1111(text: str) -> bool:
    """True when ``text`` ends with an A1111 settings line (or is one).

    Judged on that evidence, not on the first character: prompts often begin with ``{``
    (dynamic prompts, ``{red|blue} hair``) or ``[`` (prompt editing, ``[cat:dog:0.5]``).
    Only text that really parses as JSON is refused.
    """
    if not text or not text.strip():
        return False
    if not _is_settings_line(_last_line(text)):
        return False
    return try_json(text) is None  # None for anything that is not a JSON object or array


def parse_a1111_text(text: str) -> tuple[str, str | None, list[tuple[str, str]]]:
    """Split into (prompt, negative or None, settings pairs).

    The settings line is the last non-blank line, and only if it carries at least two core keys (Steps,
    Sampler, CFG scale, Seed, Size, Model…); otherwise the whole text is prompt. Everything from the first
    line starting ``Negative prompt:`` to the settings line is the negative prompt. Line endings are
    normalised to ``\\n``.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    # The settings line is the last non-empty line that looks like one.
    settings: list[tuple[str, str]] = []
    idx = len(lines) - 1
    while idx >= 0 and not lines[idx].strip():
        idx -= 1
    if idx >= 0 and _is_settings_line(lines[idx]):
        settings = split_settings(lines[idx].strip())
        body = lines[:idx]
    else:
        body = lines
    prompt_lines: list[str] = []
    neg_lines: list[str] | None = None
    for ln in body:
        if neg_lines is None and ln.startswith("Negative prompt:"):
            neg_lines = [ln[len("Negative prompt:") :].lstrip()]
        elif neg_lines is not None:
            neg_lines.append(ln)
        else:
            prompt_lines.append(ln)
    prompt = "\n".join(prompt_lines).strip()
    negative = "\n".join(neg_lines).strip() if neg_lines is not None else None
    return prompt, negative, settings


def _num(v: str | None, kind: type = float) -> Any:
    """``v`` as ``kind`` (float or int), None when it does not parse; integers are parsed exactly, because
    seeds exceed a float's 53 bits.
    """
    if v is None:
        return None
    if kind is int and re.fullmatch(r"\s*-?\d+\s*", str(v)):
        return int(str(v))  # exact: seeds can exceed a float's 53 bits
    try:
        f = float(str(v).strip())
    except ValueError:
        return None
    if not math.isfinite(f):  # "inf" and "nan" parse as floats but are no setting's value
        return None
    if kind is int:
        return int(f) if f.is_integer() else None
    return f


def _size(v: str | None) -> tuple[int | None, int | None]:
    if not v:
        return None, None
    m = re.match(r"\s*(\d+)\s*[x×]\s*(\d+)", v)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def hash_kind(h: str) -> str:
    """Guess a hash kind from its length (Civitai's naming): 8 → AutoV1, 10 → AutoV2, 12 → AutoV3,
    64 → SHA256, else ``"unknown"``. 8 hex could also be CRC32; A1111 writes AutoV1 there.
    """
    h = h.strip()
    n = len(h)
    if n == 8:
        return "AutoV1"
    if n == 10:
        return "AutoV2"
    if n == 12:
        return "AutoV3"
    if n == 64:
        return "SHA256"
    return "unknown"


def _hash_map(pairs: str) -> dict[str, str]:
    """``"name: hash, name2: hash2"`` → {name: hash}."""
    out: dict[str, str] = {}
    for part in pairs.split(","):
        name, sep, h = part.rpartition(":")
        if sep and name.strip():
            out[name.strip()] = h.strip()
    return out


def info_from_a1111(text: str, info: GenerationInfo | None = None) -> GenerationInfo:
    """Fill a GenerationInfo from A1111 ``parameters`` text (``info`` is updated in place when given, else a
    new one is made); the generator is left for the caller to name.
    """
    prompt, negative, pairs = parse_a1111_text(text)
    return info_from_parts(prompt, negative, pairs, info)


def info_from_parts(
    prompt: str, negative: str | None, pairs: list[tuple[str, str]], info: GenerationInfo | None = None
) -> GenerationInfo:
    """Fill a GenerationInfo from an already split prompt, negative and settings.

    Keys are matched case-insensitively and the first occurrence wins; every pair is also kept in
    ``extra``. Reads A1111 and SD.Next spellings: sampler and schedule type (mapped to ComfyUI names),
    hashes of every kind (``Model hash``, ``VAE hash``, ``Lora hashes``, ``TI hashes``, a ``Hashes`` JSON),
    LoRAs from ``<lora:name:weight>`` tags (weight 1.0 when unwritten) and from ``Lora_N …`` keys, hires
    fix, refiner, ADetailer and ControlNet fields, and Civitai's resource JSON. The prompt keeps its LoRA
    tags; ``tools/reconstruct/prompt_syntax`` strips them when a graph is built.
    """
    info = info or GenerationInfo()
    info.prompt = prompt or info.prompt
    info.negative_prompt = negative if negative is not None else info.negative_prompt
    kv: dict[str, str] = {}
    for k, v in pairs:
        kv.setdefault(k, v)
    low = {k.lower(): v for k, v in kv.items()}
    info.extra.update(kv)

    info.steps = _num(low.get("steps"), int)
    info.cfg = _num(low.get("cfg scale") or low.get("guidance scale") or low.get("guidance"))
    info.seed = _num(low.get("seed"), int)
    info.subseed = _num(low.get("variation seed"), int)
    info.subseed_strength = _num(low.get("variation seed strength"))
    info.width, info.height = _size(low.get("size"))
    info.denoise = _num(low.get("denoising strength") or low.get("denoise"))
    info.clip_skip = _num(low.get("clip skip"), int)
    info.batch_size = _num(low.get("batch size"), int)
    info.batch_index = _num(low.get("batch pos") or low.get("batch index"), int)

    sampler_raw = low.get("sampler")
    sched_raw = low.get("schedule type") or low.get("scheduler") or low.get("sampler sigma")
    info.sampler_raw, info.scheduler_raw = sampler_raw, sched_raw
    s, sch = map_sampler(sampler_raw)
    info.sampler = s
    info.scheduler = map_scheduler(sched_raw) or sch

    # Hashes of every kind.
    hashes: dict[str, str] = {}
    raw_hashes = low.get("hashes")
    if raw_hashes and raw_hashes.startswith("{"):
        try:
            obj = json.loads(raw_hashes)
            if isinstance(obj, dict):
                hashes.update({str(k): str(v) for k, v in obj.items()})
        except (ValueError, RecursionError):
            pass
    model_hash = low.get("model hash") or hashes.get("model")
    model_name = low.get("model")
    if model_name or model_hash:
        info.model = ModelInfo(name=model_name, hashes={hash_kind(model_hash): model_hash} if model_hash else {})
    if low.get("vae") or low.get("vae hash"):
        vh = low.get("vae hash")
        info.vae = ModelInfo(name=low.get("vae"), hashes={hash_kind(vh): vh} if vh else {})
    if model_hash:
        hashes.setdefault("model", model_hash)
    if low.get("vae hash"):
        hashes.setdefault("vae", low["vae hash"])

    # LoRAs: prompt tags, `Lora hashes`, xxmjskxx `Lora_N ...` keys, Hashes {"lora:x"}.
    loras: dict[str, LoraRef] = {}
    for m in _LORA_TAG.finditer(prompt or ""):
        if m.group(1).lower() == "hypernet":
            continue
        name = m.group(2).strip()
        loras.setdefault(name, LoraRef(name=name, weight=_num(m.group(3)) if m.group(3) else 1.0))
    for name, h in _hash_map(low.get("lora hashes", "")).items():
        ref = loras.setdefault(name, LoraRef(name=name))
        ref.hashes[hash_kind(h)] = h
        hashes.setdefault(f"lora:{name}", h)
    numbered: dict[str, dict[str, str]] = {}
    for k, v in kv.items():
        nm = re.match(r"Lora_(\d+) (.+)", k)
        if nm:
            numbered.setdefault(nm.group(1), {})[nm.group(2).lower()] = v
    for fields in numbered.values():
        name = fields.get("model name")
        if not name:
            continue
        ref = loras.setdefault(name, LoraRef(name=name))
        ref.weight = _num(fields.get("strength model"))
        ref.clip_weight = _num(fields.get("strength clip"))
        if fields.get("model hash"):
            ref.hashes[hash_kind(fields["model hash"])] = fields["model hash"]
    for k, h in hashes.items():
        if k.lower().startswith("lora:"):
            name = k[5:]
            match = next((r for n, r in loras.items() if n == name or n.rsplit(".", 1)[0] == name), None)
            if match is None:
                match = loras.setdefault(name, LoraRef(name=name))
            match.hashes.setdefault(hash_kind(h), h)
    info.loras = list(loras.values())

    embeds: dict[str, EmbeddingRef] = {}
    for name, h in _hash_map(low.get("ti hashes", "")).items():
        embeds.setdefault(name, EmbeddingRef(name=name, hashes={hash_kind(h): h}))
    for k, h in hashes.items():
        if k.lower().startswith("embed:"):
            embeds.setdefault(k[6:], EmbeddingRef(name=k[6:], hashes={hash_kind(h): h}))
    info.embeddings = list(embeds.values())
    info.hashes = hashes

    # Hires fix (A1111 names, SD.Next names).
    if any(k.startswith("hires") for k in low):
        rw, rh = _size(low.get("hires resize") or low.get("hires size"))
        info.hires = HiresInfo(
            upscaler=low.get("hires upscaler"),
            scale=_num(low.get("hires upscale") or low.get("hires scale")),
            resize_width=rw,
            resize_height=rh,
            steps=_num(low.get("hires steps"), int),
            denoise=info.denoise,
            cfg=_num(low.get("hires cfg scale")),
            sampler_raw=low.get("hires sampler"),
            scheduler_raw=low.get("hires schedule type"),
        )
    if low.get("refiner"):
        info.refiner = RefinerInfo(
            model=ModelInfo(name=re.sub(r"\s*\[\w+\]$", "", low["refiner"])),
            switch_at=_num(low.get("refiner switch at")),
        )
    ad = {k: v for k, v in kv.items() if k.lower().startswith("adetailer")}
    info.adetailer = ad or None
    for key in ("civitai resources", "civitai metadata"):
        if low.get(key, "")[:1] in ("[", "{"):
            with contextlib.suppress(ValueError, RecursionError):
                info.extra[key.replace(" ", "_")] = json.loads(low[key])
    cn = {k: v for k, v in kv.items() if k.lower().startswith("controlnet")}
    info.controlnet = cn or None
    return info
