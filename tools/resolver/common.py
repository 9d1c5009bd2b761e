"""Shared pieces of the resolver stages: configuration, the working state of one resolution, helpers.

``TRUSTED_HF_AUTHORS`` are the publishers whose repackaged files ComfyUI's templates and docs point at;
being one of them only ranks a candidate higher, it never makes a near miss exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from comfyfixer.tools.catalogs.notes import NotesIndex
from comfyfixer.tools.resolver.cache import DiskCache
from comfyfixer.tools.resolver.models import DownloadCandidate, Evidence, ModelQuery
from comfyfixer.tools.resolver.tokens import FilenameInfo

# Publishers whose repackaged files the official templates and docs point at.
TRUSTED_HF_AUTHORS = ("Comfy-Org", "comfyanonymous", "Kijai", "city96", "black-forest-labs", "stabilityai",
                      "Lightricks", "Wan-AI", "Qwen", "lllyasviel", "lightx2v", "tencent", "Tencent-Hunyuan")
SEARCH_AUTHORS = ("Comfy-Org", "comfyanonymous")

@dataclass
class ResolverConfig:
    """Tuning knobs of the model resolver; the defaults are what ``ToolContext`` uses.

    ``hf_search_limit`` repos per Hugging Face search, ``hf_repo_budget`` repos whose files are listed per
    query, ``civitai_limit`` models per Civitai search, ``fuzzy_threshold`` the lowest similarity score
    (0–1, after variant penalties) for a near-miss candidate, ``max_candidates`` per verdict.
    ``verdict_ttl``/``listing_ttl`` are cache lifetimes in seconds (None: the cache's default).
    ``scan_authors`` are the publishers whose every repo is listed when searches miss, at most
    ``scan_max_repos`` each.
    """
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
    """Working state of one resolution.

    Stages append to it: ``searched`` (what was asked, for the verdict), ``evidence`` (what each source
    said), ``exact`` (exact name or hash matches) and ``pool`` (near misses keyed by URL, scored only if no
    stage settles the question).
    """

    query: ModelQuery
    info: FilenameInfo
    sources: tuple[str, ...]
    searched: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    exact: list[DownloadCandidate] = field(default_factory=list)
    pool: dict[str, DownloadCandidate] = field(default_factory=dict)  # url -> near-miss candidate

    def say(self, source: str, said: str) -> None:
        """Record that ``source`` said ``said`` (one line of evidence)."""
        self.evidence.append(Evidence(source=source, said=said))


def strip_query(url: str) -> str:
    """``url`` without its query string for Hugging Face URLs (a ``?download=true`` does not change the file,
    and would make one file look like several); other URLs are kept whole because Civitai's query picks the
    file.
    """
    return url.split("?", 1)[0] if "huggingface.co" in url or "/resolve/" in url else url


def compact(text: str) -> str:
    """Lower-case letters and digits only: ``"Wan2.2-T2V"`` → ``"wan22t2v"``, for loose name containment."""
    return re.sub(r"[^a-z0-9]", "", text.lower())



class StageBase:
    """What every stage mixin may use from the resolver (declared for type checkers)."""

    cache: DiskCache
    config: ResolverConfig
    notes: NotesIndex | None

    def _add(self, run: Run, cand: DownloadCandidate) -> None:
        raise NotImplementedError


def early_access(ends_at: str | None, cand: DownloadCandidate) -> None:
    """Civitai early access: downloadable only with a paid unlock until ``ends_at``.

    When ``ends_at`` is in the future, marks ``cand`` as needing a token and adds a reason; a missing or
    unparsable date, or one in the past, changes nothing.
    """
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


