"""Lighter variants from recorded real file lists of Hugging Face repositories (``data/variant_repos.json``).

ComfyUI-Manager's model catalog lists GGUF files for FLUX.1 dev/schnell and T5 only. For other models
the official templates load, the repositories that publish GGUF conversions (QuantStack's FLUX.1
Krea/Kontext, Wan 2.2 TI2V 5B ...) were recorded from their "Files and versions" pages with the
page's own sizes; each entry names its listing URL and the template files it converts. Only those
names are offered, with the ``resolve/main`` URL the Hub serves them at, so the plan → approve → apply
path downloads and verifies them like any other file. Nothing is guessed: a model without a
recorded list gets no GGUF from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from comfyfixer.tools.fit.sizes import parse_size_label
from comfyfixer.tools.fit.variants import Variant, catalog_variants

DATA = Path(__file__).with_name("data") / "variant_repos.json"


@dataclass(frozen=True)
class RecordedVariant(Variant):
    """A variant from a recorded repository listing (``source`` names the listing page)."""

    source: str = ""


@dataclass(frozen=True)
class RecordedRepo:
    """One recorded repository: its id, listing page, the files it converts and its files."""

    repo: str
    listing: str
    variant_of: tuple[str, ...]
    folder: str
    files: tuple[tuple[str, int, str], ...]  # (name, bytes, the page's size label)


@lru_cache(maxsize=1)
def recorded_repos() -> tuple[RecordedRepo, ...]:
    """Every recorded repository (read once)."""
    doc: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    out = []
    for r in doc["repos"]:
        files = tuple((name, parse_size_label(label) or 0, label) for name, label in r["files"])
        out.append(RecordedRepo(r["repo"], r["listing"], tuple(r["variant_of"]), r["folder"], files))
    return tuple(out)


def recorded_variants(filename: str, current_bytes: int) -> list[RecordedVariant]:
    """Recorded files that convert ``filename`` and weigh less, largest (best quality) first."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    out = [RecordedVariant(f, size, f"https://huggingface.co/{r.repo}/resolve/main/{f}", f.lower().endswith(".gguf"),
                           r.folder, source=f"{r.repo} file list ({r.listing})")
           for r in recorded_repos() if name in r.variant_of for f, size, _ in r.files if 0 < size < current_bytes]
    return sorted(out, key=lambda v: -v.bytes)


def lighter_files(catalog: Any, filename: str, current_bytes: int) -> list[Variant]:
    """ComfyUI-Manager's catalog variants and the recorded ones, one per file name, largest first."""
    seen: set[str] = set()
    out: list[Variant] = []
    for v in [*catalog_variants(catalog, filename, current_bytes), *recorded_variants(filename, current_bytes)]:
        if v.filename not in seen:
            seen.add(v.filename)
            out.append(v)
    return sorted(out, key=lambda v: -v.bytes)


def variant_source(v: Variant) -> str:
    """Where a variant was found, for the change's explanation."""
    return v.source if isinstance(v, RecordedVariant) else "listed in ComfyUI-Manager's catalog"


@dataclass(frozen=True)
class FamilySwap:
    """A smaller model of the same family, read by the same loader, from a recorded listing."""

    replaces: str
    with_file: str
    bytes: int
    size_label: str
    repo: str
    listing: str
    folder: str
    unless_loaded: tuple[str, ...]  # file-name prefixes made only for the larger model
    unless_role: tuple[str, ...]  # roles whose files are made for the larger model (LoRAs)
    cost: str

    @property
    def url(self) -> str:
        """Where the Hub serves it."""
        return f"https://huggingface.co/{self.repo}/resolve/main/{self.with_file}"


@lru_cache(maxsize=1)
def family_swaps() -> tuple[FamilySwap, ...]:
    """Every recorded smaller-family-member swap (read once)."""
    doc: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    return tuple(FamilySwap(s["replaces"], s["with"], parse_size_label(s["size"]) or 0, s["size"], s["repo"], s["listing"],
                            s["folder"], tuple(s.get("unless_loaded", [])), tuple(s.get("unless_role", [])), s["cost"])
                 for s in doc.get("smaller_family_members", []))


def recorded_sizes() -> dict[str, tuple[str, str, str, str]]:
    """File name → (size label, folder, resolve URL, listing page) of every recorded file."""
    out = {f: (label, r.folder, f"https://huggingface.co/{r.repo}/resolve/main/{f}", r.listing)
           for r in recorded_repos() for f, _, label in r.files}
    out.update({s.with_file: (s.size_label, s.folder, s.url, s.listing) for s in family_swaps()})
    return out
