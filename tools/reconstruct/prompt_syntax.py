"""Turn a WebUI-style prompt into text a ComfyUI ``CLIPTextEncode`` reads the same way, or say why not.

ComfyUI understands ``(text:1.2)`` weights and ``\\(`` escapes like A1111, but not
``<lora:…>`` tags (A1111 strips them and loads the LoRA: we load it with a LoraLoader),
bare embedding names (ComfyUI needs ``embedding:name``), prompt editing ``[a:b:0.5]``,
alternation ``[a|b]``, ``[…]`` de-emphasis, ``BREAK`` or NovelAI's ``{…}`` emphasis.
Those are kept as written and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_EXTRA_NETWORK = re.compile(r"<(lora|lyco|locon|hypernet|hypernetwork):([^>]*)>", re.IGNORECASE)
_EDITING = re.compile(r"\[[^\[\]]*:[^\[\]]*\]")  # [from:to:when], [to:when], [from::when]
_ALTERNATION = re.compile(r"\[[^\[\]:]*\|[^\[\]]*\]")
_DEEMPHASIS = re.compile(r"(?<!\\)\[[^\[\]:|]+\]")
_BREAK = re.compile(r"\bBREAK\b")
_NAI_BRACES = re.compile(r"(?<!\\)\{[^{}]+\}")


@dataclass
class CleanPrompt:
    """The prompt as ComfyUI should receive it (``text``), the ``<lora:…>``/``<lyco:…>``/``<hypernet:…>`` tags
    taken out of it, the embeddings rewritten as ``embedding:name``, and one description per unsupported
    syntax found (with an example).
    """
    text: str
    removed_tags: list[str] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def clean_prompt(text: str, embeddings: list[str] | None = None, *, novelai: bool = False) -> CleanPrompt:
    """Strip extra-network tags, mark embeddings as ``embedding:name``, and list unsupported syntax.

    ``embeddings`` are names the metadata says were used; each whole-word occurrence is prefixed, except
    where it already follows ``embedding:``. Unsupported syntax is reported, never rewritten: a guessed
    translation of prompt editing would change the image silently. ``novelai`` also reports ``{…}``
    emphasis.
    """
    result = CleanPrompt(text=text)
    result.removed_tags = [m.group(0) for m in _EXTRA_NETWORK.finditer(text)]
    # A1111 removes the tags and encodes the rest exactly as written (commas left behind included).
    out = _EXTRA_NETWORK.sub("", text)
    for name in embeddings or []:
        pattern = re.compile(rf"(?<![\w:]){re.escape(name)}(?![\w])")
        if pattern.search(out):
            out = pattern.sub(f"embedding:{name}", out)
            result.embeddings.append(name)
    for label, rx in (("prompt editing [a:b:when]", _EDITING), ("alternation [a|b]", _ALTERNATION),
                      ("de-emphasis [text]", _DEEMPHASIS), ("BREAK", _BREAK)):
        found = rx.findall(out)
        if found:
            sample = found[0] if isinstance(found[0], str) else label
            result.unsupported.append(f"{label}, e.g. {sample!r}")
    if novelai and _NAI_BRACES.search(out):
        result.unsupported.append("NovelAI {emphasis} braces (ComfyUI reads them as plain text)")
    result.text = out
    return result
