"""Hugging Face stage: repo search with filename-derived terms, exact filename match in file listings,
and a scan of the official repackagers' repos when the names say nothing.

The Hub search matches repo names only, never file names, so terms come from the filename
(``tokens.search_terms``) and every candidate repo's file listing is fetched and compared. Listings are
cached, which makes the publisher scan (hundreds of repos) a one-time cost per cache lifetime.
"""

from __future__ import annotations

import math
import re
from typing import Any

from comfyfixer.tools.errors import HTTPError, NotFound
from comfyfixer.tools.huggingface.client import GatedRepo, HfFile, HfRepoSummary, HuggingFaceClient
from comfyfixer.tools.resolver import folders
from comfyfixer.tools.resolver.common import SEARCH_AUTHORS, TRUSTED_HF_AUTHORS, Run, StageBase, compact
from comfyfixer.tools.resolver.models import DownloadCandidate
from comfyfixer.tools.resolver.tokens import MODEL_EXTENSIONS, search_terms


class HfStage(StageBase):
    """The Hugging Face stage of ``ModelResolver`` (a mixin: ``hf``, ``cache``, ``config`` and ``notes`` are
    the resolver's). Search answers, repo trees and file metadata are cached in the resolver's ``DiskCache``
    under ``hf-search``, ``hf-tree`` and ``hf-meta``, keyed by endpoint so a mirror has its own entries.
    """
    hf: HuggingFaceClient | None

    # ------------------------------------------------------------------ 4. Hugging Face
    def _from_hf(self, run: Run) -> None:
        """Stage 4: search the Hub with filename-derived terms (and the official publishers), list the most
        relevant repos' files within ``hf_repo_budget`` and look for the exact basename; stop early when an
        official publisher has it, else scan the publishers' repos.
        """
        if self.hf is None:
            return
        terms = search_terms(run.info)
        if not terms:
            run.searched.append(f"hf: no usable search term in {run.info.basename}")
            return
        repos: dict[str, HfRepoSummary] = {}
        for term in terms:
            run.searched.append(f"hf search {term!r}")
            for r in self._hf_search(term, None):
                repos.setdefault(r.id, r)
        for author in SEARCH_AUTHORS:
            term = run.info.family or terms[-1]
            run.searched.append(f"hf search {term!r} author={author}")
            for r in self._hf_search(term, author):
                repos.setdefault(r.id, r)
        noted = {r for h in (self.notes.lookup(run.info.basename) if self.notes is not None else []) for r in h.repos}
        for rid in sorted(noted - set(repos)):
            repos[rid] = HfRepoSummary(id=rid)
        ranked = sorted(repos.values(), key=lambda r: (r.id in noted, self._repo_relevance(run, r)), reverse=True)
        listed = 0
        for repo in ranked:
            if listed >= self.config.hf_repo_budget:
                break
            # Repos are sorted by relevance: after the first irrelevant one, all the rest are too.
            if self._repo_relevance(run, repo) <= 0 and repo.id not in noted:
                break
            listed += 1
            try:
                files = self._hf_tree(repo.id)
            except GatedRepo:
                run.say("hf", f"{repo.id} is gated; its files could not be listed")
                continue
            except NotFound:
                continue
            run.searched.append(f"hf files of {repo.id}")
            hit = False
            for f in files:
                if not f.name.lower().endswith(MODEL_EXTENSIONS):
                    continue
                cand = self._hf_candidate(repo, f, exact=f.name == run.info.basename)
                if cand.exact:
                    hit = True
                    run.say("hf", f"{repo.id} has {f.path} ({f.size or '?'} bytes, sha256 {f.sha256 or '?'})")
                    self._add(run, cand)
                else:
                    run.pool.setdefault(cand.url, cand)
            if hit and repo.id.split("/")[0] in TRUSTED_HF_AUTHORS:
                return  # an official publisher has it; further repos would be mirrors or re-uploads
        self._publisher_scan(run, {r.id for r in ranked[:listed]})

    def _publisher_scan(self, run: Run, done: set[str]) -> None:
        """Exact-name lookup across every repo of the official repackagers.

        Their repo names often say nothing about the files inside (a text encoder lives in the repo
        of the model that uses it), so search terms miss them. The listings are cached, so the crawl
        is paid once per cache lifetime, not per query.
        """
        assert self.hf is not None
        for author in self.config.scan_authors:
            run.searched.append(f"hf files of every {author} repo")
            try:
                repos = self._hf_search("", author, limit=self.config.scan_max_repos)
            except HTTPError as exc:
                run.say("hf", f"listing {author}'s repos failed: {exc.message}")
                continue
            for repo in repos:
                if repo.id in done:
                    continue
                try:
                    files = self._hf_tree(repo.id)
                except (GatedRepo, NotFound):
                    continue
                for f in files:
                    if f.name == run.info.basename:
                        run.say("hf", f"{repo.id} has {f.path} ({f.size or '?'} bytes, sha256 {f.sha256 or '?'})")
                        self._add(run, self._hf_candidate(repo, f, exact=True))

    def _hf_candidate(self, repo: HfRepoSummary, f: HfFile, *, exact: bool) -> DownloadCandidate:
        assert self.hf is not None
        return DownloadCandidate(source="hf", url=self.hf.resolve_url(repo.id, f.path), filename=f.name, size=f.size,
                         sha256=f.sha256, score=1.0 if exact else 0.0, gated=repo.gated or repo.private,
                         needs_token=repo.gated or repo.private, license=repo.license, repo=repo.id, path=f.path,
                         folder=folders.from_path(f.path), downloads=repo.downloads, exact=exact)

    def _repo_relevance(self, run: Run, repo: HfRepoSummary) -> float:
        """How well a repo's name matches the file's search terms and words; 0 means unrelated. Trusted
        publishers get a bonus, GGUF repos a penalty for non-GGUF files.
        """
        name = compact(repo.id.split("/", 1)[-1])
        info = run.info
        score = 0.0
        for term in search_terms(info):
            if compact(term) and compact(term) in name:
                score += 1.0
        for w in info.words[:4]:
            if len(w) >= 3 and w in name:
                score += 0.5
        if score <= 0:
            return 0.0
        if repo.id.split("/")[0] in TRUSTED_HF_AUTHORS:
            score += 1.5
        if re.search(r"gguf", name) and info.ext != ".gguf":
            # A GGUF repo rarely holds the non-GGUF file asked for.
            score -= 1.0
        # Downloads only break ties between repos of the same relevance (a tenth per factor of ten).
        return score + math.log10(repo.downloads + 1) / 10

    def _hf_search(self, term: str, author: str | None, *, limit: int | None = None) -> list[HfRepoSummary]:
        """Cached ``search_models`` (namespace ``hf-search``)."""
        assert self.hf is not None
        limit = limit or self.config.hf_search_limit
        key = f"{self.hf.endpoint}|{term}|{author}|{limit}"
        hit = self.cache.get("hf-search", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return [HfRepoSummary.model_validate(r) for r in hit[0]]
        found = self.hf.search_models(term, author=author, limit=limit)
        self.cache.put("hf-search", key, [r.model_dump() for r in found])
        return found

    def _hf_tree(self, repo_id: str) -> list[HfFile]:
        """Cached ``list_files`` of a repo's default branch (namespace ``hf-tree``)."""
        assert self.hf is not None
        key = f"{self.hf.endpoint}|{repo_id}"
        hit = self.cache.get("hf-tree", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return [HfFile.model_validate(f) for f in hit[0]]
        files = self.hf.list_files(repo_id)
        self.cache.put("hf-tree", key, [f.model_dump() for f in files])
        return files

    def _hf_meta(self, repo: str, path: str, rev: str) -> dict[str, Any]:
        """Cached sha256 and size of one file (namespace ``hf-meta``)."""
        assert self.hf is not None
        key = f"{self.hf.endpoint}|{repo}|{rev}|{path}"
        hit = self.cache.get("hf-meta", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return dict(hit[0])
        meta = self.hf.file_metadata(repo, path, revision=rev)
        val = {"sha256": meta.sha256, "size": meta.size}
        self.cache.put("hf-meta", key, val)
        return val

