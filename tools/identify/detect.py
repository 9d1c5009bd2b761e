"""Apply the rules of :mod:`.rules` to a header, a name or a catalog answer → :class:`ModelIdentity`.

Every reading records its evidence (which tensor, which shape, which metadata key, which rule source),
and competing readings are kept as candidates instead of being resolved by a guess.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from comfyfixer.tools.identify import rules as R
from comfyfixer.tools.identify.models import Candidate, ModelIdentity, Role
from comfyfixer.tools.modelfile import ModelHeader

# Confidence of each kind of evidence (a header marker is ComfyUI's own test, a name is a hint).
HEADER_CONFIDENCE = 0.95
LORA_METADATA_CONFIDENCE = 0.95
LORA_KEYS_CONFIDENCE = 0.85
NAME_CONFIDENCE = 0.6
NAME_AND_FOLDER_CONFIDENCE = 0.75
IDENTIFIED_AT = 0.7
# Roles whose files work with every family (an upscaler enlarges pixels, whatever made them).
FAMILY_FREE_ROLES = ("upscaler",)
# What to give instead when nothing was recognised.
GIVE_MORE = ("give the file itself (its header is read), its Civitai, Hugging Face or ModelScope URL, "
             "or its SHA256")
GIVE_MORE_FOR_FILE = ("download it again for a readable header, or give its Civitai, Hugging Face or ModelScope "
                      "URL or its SHA256")


def finish(ident: ModelIdentity) -> ModelIdentity:
    """Fill the derived fields (label, folder) and set the status from what is known."""
    if ident.family:
        ident.family_label = R.FAMILIES.get(ident.family, ident.family)
    if ident.role != "unknown":
        ident.folder = R.ROLE_FOLDER.get(ident.role)
    if len(ident.candidates) > 1:
        ident.status = "UNCERTAIN"
    elif ident.role == "unknown" and ident.family is None:
        ident.status = "UNKNOWN"
    elif ((ident.family or ident.families_using or ident.role in FAMILY_FREE_ROLES) and ident.role != "unknown"
          and ident.confidence >= IDENTIFIED_AT):
        ident.status = "IDENTIFIED"
    else:
        ident.status = "UNCERTAIN"
    return ident


def _shape_ok(header: ModelHeader, prefix: str, test: tuple[str, int, tuple[int, ...]] | None) -> bool:
    """Whether the rule's shape test holds (``None``: no test) for the tensor under ``prefix``."""
    if test is None:
        return True
    tensor, axis, allowed = test
    shape = header.shape(prefix + tensor)
    return shape is not None and -len(shape) <= axis < len(shape) and shape[axis] in allowed


def _fmt_shape(header: ModelHeader, name: str) -> str:
    """``name [d0, d1, …]`` for evidence lines."""
    shape = header.shape(name)
    return f"{name} {list(shape)}" if shape is not None else name


# --- diffusion models -------------------------------------------------------------------------------
def _dit_matches(header: ModelHeader) -> list[tuple[R.FamilyRule, str]]:
    """Every diffusion-architecture rule whose marker is present, with the key prefix it was found under."""
    keys = header.tensors
    found = []
    for rule in R.DIT_RULES:
        for prefix in R.DIFFUSION_PREFIXES:
            if (prefix + rule.marker in keys and all(prefix + k in keys for k in rule.also)
                    and not any(prefix + k in keys for k in rule.unless)):
                found.append((rule, prefix))
                break
    return found


def _unet_match(header: ModelHeader) -> tuple[str | None, str, list[str]] | None:
    """(family or None, prefix, evidence) for an SD U-Net, from the width of its cross-attention."""
    for prefix in R.DIFFUSION_PREFIXES:
        marker = prefix + R.UNET_MARKER
        if marker not in header.tensors:
            continue
        evidence = [f"{_fmt_shape(header, marker)}: an SD U-Net ({R.UNET_SOURCE})"]
        family = None
        for key, (_, shape) in header.tensors.items():
            if key.startswith(prefix) and R.UNET_CROSS_ATTN.search(key) and len(shape) == 2:
                family = R.CONTEXT_WIDTH_FAMILY.get(shape[1])
                evidence.append(f"{key} {list(shape)}: text context width {shape[1]}")
                break
        label = header.shape(prefix + "label_emb.0.0.weight")
        if label is not None:
            evidence.append(f"{prefix}label_emb.0.0.weight {list(label)}: SDXL's size conditioning")
            family = family or "sdxl"
        return family, prefix, evidence
    return None


def _unet_variant(header: ModelHeader, prefix: str, family: str | None) -> str | None:
    """SDXL base vs refiner (the size-conditioning width) and inpainting (9 input channels)."""
    label = header.shape(prefix + "label_emb.0.0.weight")
    first = header.shape(prefix + R.UNET_MARKER)
    parts = []
    if family == "sdxl" and label is not None:
        parts.append("SDXL refiner" if label[1] == 2560 else "SDXL base")
    if first is not None and len(first) > 1 and first[1] == 9:
        parts.append("inpainting (9 input channels)")
    return ", ".join(parts) or None


def _checkpoint_parts(header: ModelHeader, prefix: str) -> tuple[bool, bool]:
    """(has a VAE, has a text encoder) beside a diffusion model found under ``prefix``."""
    if prefix != "model.diffusion_model.":
        return False, False
    keys = header.tensors
    vae = any(k.startswith(R.CHECKPOINT_VAE_PREFIXES) for k in keys)
    te = any(k.startswith(R.CHECKPOINT_TE_PREFIXES) for k in keys)
    return vae, te


def _diffusion(header: ModelHeader, ident: ModelIdentity) -> bool:
    """A diffusion model (DiT rules, else the SD U-Net rule): family, variant, and checkpoint vs
    diffusion-model-only from the parts beside it. Several matching rules become candidates."""
    matches = _dit_matches(header)
    readings: list[tuple[str | None, str, str | None, list[str]]] = []  # family, prefix, variant, evidence
    for rule, prefix in matches:
        evidence = [f"{_fmt_shape(header, prefix + rule.marker)} ({rule.source})"]
        evidence += [f"{_fmt_shape(header, prefix + k)}" for k in rule.also]
        family, variant = rule.family, None
        for v in rule.variants:
            if (all(prefix + k in header.tensors for k in v.present)
                    and not any(prefix + k in header.tensors for k in v.absent) and _shape_ok(header, prefix, v.shape)):
                variant, family = v.label, v.family or rule.family
                if v.shape:
                    evidence.append(f"{_fmt_shape(header, prefix + v.shape[0])}: {v.label}")
                elif v.present:
                    evidence.append(f"{prefix + v.present[0]} present: {v.label}")
                else:
                    evidence.append(f"no {prefix + v.absent[0]}: {v.label}")
                break
        readings.append((family, prefix, variant, evidence))
    unet = _unet_match(header) if not readings else None
    if unet is not None:
        family, prefix, evidence = unet
        readings.append((family, prefix, _unet_variant(header, prefix, family), evidence))
    if not readings:
        return False
    family, prefix, variant, evidence = readings[0]
    has_vae, has_te = _checkpoint_parts(header, prefix)
    role: Role = "checkpoint" if has_vae else "diffusion_model"
    evidence.append(
        f"keys under '{prefix}' with a VAE (first_stage_model./vae.){' and text encoders' if has_te else ''}: "
        "a single-file checkpoint" if has_vae else
        f"no VAE beside the diffusion weights (key prefix '{prefix or '(none)'}'): a diffusion model only")
    ident.family, ident.variant, ident.role, ident.evidence = family, variant, role, ident.evidence + evidence
    ident.confidence = HEADER_CONFIDENCE if family else 0.5
    if len(readings) > 1:
        ident.candidates = [Candidate(family=f, role=role, confidence=0.5, why="; ".join(e)) for f, _, _, e in readings]
    elif family is None:
        ident.candidates = [Candidate(family=f, role=role, confidence=0.4, why="SD U-Net with no cross-attention "
                                      "width to tell SD 1.x from SDXL") for f in ("sd15", "sdxl")]
    return True


# --- other parts ------------------------------------------------------------------------------------
def _part(header: ModelHeader, ident: ModelIdentity, roles: Iterable[str]) -> bool:
    """The first part rule of ``roles`` that matches (VAE, text encoder, ControlNet, …)."""
    wanted = set(roles)
    for rule in R.PART_RULES:
        if rule.role not in wanted or rule.marker not in header.tensors:
            continue
        if not all(k in header.tensors for k in rule.also) or not _shape_ok(header, "", rule.shape):
            continue
        ident.role = rule.role
        ident.variant = rule.label
        ident.confidence = HEADER_CONFIDENCE
        ident.families_using = list(rule.families)
        ident.family = rule.families[0] if len(rule.families) == 1 else None
        shown = rule.shape[0] if rule.shape else rule.marker
        ident.evidence.append(f"{_fmt_shape(header, shown)}: {rule.label} ({rule.source})")
        if len(rule.families) > 1:
            ident.evidence.append(f"used by: {', '.join(rule.families)} (the file alone does not say which)")
        return True
    return False


# --- LoRA -------------------------------------------------------------------------------------------
def _is_lora(header: ModelHeader) -> tuple[int, bool]:
    """(number of adapter tensors, whether any is a LyCORIS kind)."""
    n, lyco = 0, False
    for key in header.tensors:
        if key.endswith(R.LYCORIS_SUFFIXES):
            n, lyco = n + 1, True
        elif key.endswith(R.LORA_SUFFIXES) or key.startswith(("lora_unet_", "lora_te")):
            n += 1
    return n, lyco


def _meta_family(header: ModelHeader) -> tuple[str | None, str | None, str | None]:
    """(family, the metadata value, key) from a trainer's base-model metadata."""
    for key, table in (("ss_base_model_version", R.KOHYA_BASE_VERSION), ("modelspec.architecture", R.MODELSPEC_ARCH)):
        value = header.metadata.get(key)
        if not isinstance(value, str) or not value:
            continue
        low = value.lower()
        for pattern, family in table:
            if pattern in low:
                return family, value, key
    return None, None, None


def _lora_key_family(header: ModelHeader) -> tuple[list[tuple[str, int]], list[str]]:
    """Families ranked by how many LoRA keys carry their module signatures, with evidence."""
    hits: Counter[str] = Counter()
    example: dict[str, str] = {}
    for key in header.tensors:
        norm = key.lower().replace(".", "_")
        for family, pattern, _ in R.LORA_SIGNATURES:
            if pattern.search(norm):
                hits[family] += 1
                example.setdefault(family, key)
    raw = hits.most_common()
    described = {f: s for f, _, s in R.LORA_SIGNATURES}
    evidence = [f"{n} key{'s' * (n != 1)} like {example[f]}: {described[f]}" for f, n in raw[:3]]
    ranked = raw
    if hits.get("sd_unet"):
        width, why = _cross_attn_width(header)
        if why:
            evidence.append(why)
        family = R.CONTEXT_WIDTH_FAMILY.get(width) if width else None
        if family is None and any(k.startswith("lora_te2_") for k in header.tensors):
            family = "sdxl"
            evidence.append("lora_te2_… keys: two text encoders, as SDXL has")
        ranked = [(family or "sd15|sdxl", n) if f == "sd_unet" else (f, n) for f, n in raw]
    return ranked, evidence


def _cross_attn_width(header: ModelHeader) -> tuple[int | None, str | None]:
    """The input width of an SD LoRA's cross-attention key projection (the text context width, which
    tells SD 1.x from SDXL) and the evidence. LoRA: ``lora_down``/``lora_A`` is [rank, in]; LoHa:
    ``hada_w1_b`` is [rank, in]; LoKr: the weight is kron(w1, w2), so in = w1[1] × w2[1], where either
    factor may be stored split (``_a`` @ ``_b``, the ``_b`` carrying the width)."""
    for key, (_, shape) in header.tensors.items():
        if R.LORA_CROSS_ATTN.search(key) and len(shape) == 2:
            return shape[1], f"{key} {list(shape)}: cross-attention input width {shape[1]}"
    for key, (_, shape) in header.tensors.items():
        module, _, kind = key.rpartition(".")
        if not R.CROSS_ATTN_MODULE.search(module) or len(shape) != 2:
            continue
        if kind == "hada_w1_b":
            return shape[1], f"{key} {list(shape)}: LoHa cross-attention input width {shape[1]}"
        if kind in ("lokr_w1", "lokr_w1_b"):
            w2 = header.shape(module + ".lokr_w2") or header.shape(module + ".lokr_w2_b")
            if w2 is not None and len(w2) == 2:
                width = shape[1] * w2[1]
                return width, f"{key} {list(shape)} ⊗ lokr_w2 {list(w2)}: LoKr cross-attention input width {width}"
    return None, None


def _lora(header: ModelHeader, ident: ModelIdentity) -> bool:
    """A LoRA or LyCORIS: its base from the trainer's metadata and from the module names of its keys;
    when the two disagree, both are candidates."""
    n, lyco = _is_lora(header)
    if n == 0:
        return False
    ident.role = "lycoris" if lyco else "lora"
    ident.evidence.append(f"{n} adapter tensors ({'LyCORIS: hada_/lokr_/oft_' if lyco else 'lora_up/down or lora_A/B'}; "
                          f"{R.LORA_SOURCE})")
    meta_family, meta_value, meta_key = _meta_family(header)
    ranked, key_evidence = _lora_key_family(header)
    ident.evidence += key_evidence
    key_family = ranked[0][0] if ranked else None
    tie = len(ranked) > 1 and ranked[1][1] == ranked[0][1]
    if meta_family:
        ident.base_model = meta_value
        ident.evidence.append(f"__metadata__ {meta_key} = {meta_value!r}: trained for {meta_family}")
        name = header.metadata.get("ss_sd_model_name")
        if isinstance(name, str) and name:
            ident.evidence.append(f"__metadata__ ss_sd_model_name = {name!r}")
    if meta_family and key_family and key_family != meta_family and key_family in R.FAMILIES and not tie:
        ident.candidates = [
            Candidate(family=meta_family, role=ident.role, confidence=0.6, why=f"{meta_key} = {meta_value!r}"),
            Candidate(family=key_family, role=ident.role, confidence=0.6, why="module names of the LoRA keys"),
        ]
        ident.family, ident.confidence = meta_family, 0.6
    elif meta_family:
        ident.family = meta_family
        ident.confidence = 0.97 if key_family == meta_family else LORA_METADATA_CONFIDENCE
    elif key_family and key_family in R.FAMILIES and not tie:
        ident.family, ident.confidence = key_family, LORA_KEYS_CONFIDENCE
    elif ranked:
        options = [f for f, _ in ranked if f in R.FAMILIES] or ["sd15", "sdxl"]
        if "|" in (key_family or ""):
            options = ["sd15", "sdxl"]
        ident.candidates = [Candidate(family=f, role=ident.role, confidence=0.4, why="LoRA key names fit several bases")
                            for f in options[:4]]
        ident.confidence = 0.4
    if ident.family in R.LORA_SIZES:
        _lora_size(header, ident)
    return True


def _lora_size(header: ModelHeader, ident: ModelIdentity) -> None:
    """A LoRA's model size from the width of its attention adapters (Wan 1.3B/14B/2.2 TI2V 5B, SD3.5 Large/Medium)."""
    pattern, sizes = R.LORA_SIZES[ident.family or ""]
    for key, (_, shape) in header.tensors.items():
        if pattern.search(key) and len(shape) == 2 and shape[1] in sizes:
            ident.variant = sizes[shape[1]]
            ident.evidence.append(f"{key} {list(shape)}: width {shape[1]}, trained for {ident.variant}")
            return


# --- entry points -----------------------------------------------------------------------------------
def identify_header(header: ModelHeader, name: str) -> ModelIdentity:
    """Identify a model from its header (safetensors or GGUF); ``name`` is only reported, never used
    to decide (a renamed file is still recognised)."""
    ident = ModelIdentity(status="UNKNOWN", source=f"{header.format} header", name=name,
                          tensor_count=len(header.tensors))
    arch = header.metadata.get("general.architecture")
    if header.format == "gguf" and isinstance(arch, str):
        role, family = R.GGUF_ARCH.get(arch, ("unknown", None))
        ident.evidence.append(f"GGUF general.architecture = {arch!r} ({R.GGUF_SOURCE})")
        if role != "unknown":
            ident.role, ident.family, ident.confidence = role, family, HEADER_CONFIDENCE
    if _lora(header, ident) or _part(header, ident, ("controlnet",)) or _diffusion(header, ident):
        return finish(ident)
    _part(header, ident, ("vae", "text_encoder", "clip_vision", "upscaler"))
    return finish(ident)


def family_from_name(text: str) -> tuple[str | None, str | None]:
    """(family, the part of ``text`` that says so) from a file name, repository id or title."""
    for pattern, family in R.NAME_FAMILY:
        m = pattern.search(text)
        if m:
            return family, m.group(0).strip("-_. /")
    return None, None


def role_from_name(text: str) -> Role:
    """The role a file name suggests ("unknown" when it does not)."""
    for pattern, role in R.NAME_ROLE:
        if pattern.search(text):
            return role
    return "unknown"


def identify_name(name: str, *, folder: str | None = None, source: str = "file name",
                  folder_source: str | None = None) -> ModelIdentity:
    """A reading from a name alone (and the folder a catalog files it under, when known)."""
    ident = ModelIdentity(status="UNKNOWN", source=source, name=name)
    family, said = family_from_name(name)
    if family:
        ident.family = family
        ident.evidence.append(f"the name contains {said!r}: {R.FAMILIES.get(family, family)} (a name is a hint, "
                              "not proof; a local file is read by its header)")
    role: Role = R.FOLDER_ROLE.get(folder or "", "unknown")
    if role != "unknown":
        ident.evidence.append(f"{folder_source or 'a catalog'} files it under '{folder}'")
    else:
        role = role_from_name(name)
        if role != "unknown":
            ident.evidence.append(f"the name suggests a {role}")
    ident.role = role
    ident.confidence = (NAME_AND_FOLDER_CONFIDENCE if folder and family else NAME_CONFIDENCE if family
                        else 0.3 if role != "unknown" else 0.0)
    if family is None and role == "unknown":
        ident.evidence.append(f"nothing in the name says what it is: {GIVE_MORE}")
    return finish(ident)


def family_from_civitai(base_model: str | None) -> str | None:
    """Family of a Civitai ``baseModel`` label ("SDXL 1.0", "Flux.1 D", "Wan Video 14B t2v", …)."""
    low = (base_model or "").lower().strip()
    for prefix, family in R.CIVITAI_BASE:
        if low.startswith(prefix):
            return family
    return None
