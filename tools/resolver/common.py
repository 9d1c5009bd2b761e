"""Shared pieces of the resolver stages: configuration, the working state of one resolution, helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from comfyfixer.tools.catalogs.notes import NotesIndex
from comfyfixer.tools.resolver.cache import DiskCache
from comfyfixer.tools.resolver.models import Candidate, Evidence, ModelQuery
from comfyfixer.tools.resolver.tokens import FilenameInfo

# Publishers whose repackaged files the official templates and docs point at.
TRUSTED_HF_AUTHORS = ("Comfy-Org", "comfyanonymous", "Kijai", "city96", "black-forest-labs", "stabilityai",
                      "Lightricks", "Wan-AI", "Qwen", "lllyasviel", "lightx2v", "tencent", "Tencent-Hunyuan")
SEARCH_AUTHORS = ("Comfy-Org", "comfyanonymous")

@dataclass
class ResolverConfig:
    hf_search_limit: int = 30
    hf_repo_budget: int = 14
    civitai_limit: int = 20
    fuzzy_threshold: float = 0.62
    max_candidates: int = 5
    verdict_ttl: float | None = None  # None: the cache's own expiry
    listing_ttl: float | None = None
    scan_authors: tuple[str, ...] = ("Comfy-Org", "comfyanonymous", "Kijai")
    scan_max_repos: int = 400


@dataclass
class Run:
    """Working state of one resolution."""

    query: ModelQuery
    info: FilenameInfo
    sources: tuple[str, ...]
    searched: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    exact: list[Candidate] = field(default_factory=list)
    pool: dict[str, Candidate] = field(default_factory=dict)  # url -> near-miss candidate

    def say(self, source: str, said: str) -> None:
        self.evidence.append(Evidence(source=source, said=said))


def strip_query(url: str) -> str:
    return url.split("?", 1)[0] if "huggingface.co" in url or "/resolve/" in url else url


def compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())



class StageBase:
    """What every stage mixin may use from the resolver (declared for type checkers)."""

    cache: DiskCache
    config: ResolverConfig
    notes: NotesIndex | None

    def _add(self, run: Run, cand: Candidate) -> None:
        raise NotImplementedError


def early_access(ends_at: str | None, cand: Candidate) -> None:
    """Civitai early access: downloadable only with a paid unlock until ``ends_at``."""
    if not ends_at:
        return
    try:
        end = datetime.fromisoformat(ends_at.replace("Z", "+00:00"))
    except ValueError:
        return
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    if end > datetime.now(UTC):
        cand.needs_token = True
        cand.reasons.append(f"- early access until {ends_at}: needs a paid unlock on Civitai until then")


