"""Model resolver: from a missing model reference to a verdict with evidence.

Sources are asked cheapest and surest first, and the first one that settles the question ends the search:

1. ``workflow``  — the URL the workflow carries (checked with a HEAD when it is on Hugging Face);
2. ``hash``      — Civitai by-hash (a short hash is confirmed against the SHA256 in the answer);
3. ``catalogs``  — Manager's model list and template URLs, by exact filename (mirrors confirmed by sha256);
4. ``hf``        — repo search with terms derived from the filename, then an exact filename match in file listings;
5. ``civitai``   — full-text search with a keyword cascade, validating ``files[].name``.

Near-miss names found on the way become UNCERTAIN candidates, ranked with reasons; never RESOLVED.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from comfyfixer.tools.catalogs.model_index import CatalogModel, ModelIndex
from comfyfixer.tools.catalogs.notes import NotesIndex
from comfyfixer.tools.civitai.client import CivitaiClient, SearchQuery
from comfyfixer.tools.civitai.hashes import guess_kinds, normalize_hash
from comfyfixer.tools.civitai.models import Model as CivitaiModel
from comfyfixer.tools.errors import AuthRequired, ComfyFixerError, EarlyAccess, HTTPError, NotFound
from comfyfixer.tools.huggingface.client import (
    GatedRepo,
    HfFile,
    HfRepoSummary,
    HuggingFaceClient,
    parse_hf_url,
)
from comfyfixer.tools.resolver import folders
from comfyfixer.tools.resolver.cache import DiskCache, NullCache
from comfyfixer.tools.resolver.models import ALL_SOURCES, Candidate, Evidence, ModelQuery, Status, Verdict
from comfyfixer.tools.resolver.tokens import (
    MODEL_EXTENSIONS,
    FilenameInfo,
    analyze,
    base_family,
    search_terms,
    split_name,
    variant_differences,
)
from pydantic import BaseModel
from rapidfuzz import fuzz

log = logging.getLogger(__name__)

# Publishers whose repackaged files the official templates and docs point at.
TRUSTED_HF_AUTHORS = ("Comfy-Org", "comfyanonymous", "Kijai", "city96", "black-forest-labs", "stabilityai",
                      "Lightricks", "Wan-AI", "Qwen", "lllyasviel", "lightx2v", "tencent", "Tencent-Hunyuan")
SEARCH_AUTHORS = ("Comfy-Org", "comfyanonymous")
CACHE_VERSION = "v1"


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
class _Run:
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


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0] if "huggingface.co" in url or "/resolve/" in url else url


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


class ModelResolver:
    """Resolves :class:`ModelQuery` objects. Clients, catalog index and cache are injected; any may be None."""

    def __init__(
        self,
        *,
        index: ModelIndex | None = None,
        hf: HuggingFaceClient | None = None,
        civitai: CivitaiClient | None = None,
        cache: DiskCache | None = None,
        config: ResolverConfig | None = None,
        notes: NotesIndex | None = None,
    ) -> None:
        self.index = index
        self.notes = notes
        self.hf = hf
        self.civitai = civitai
        self.cache = cache or NullCache()
        self.config = config or ResolverConfig()

    # ------------------------------------------------------------------ entry point
    def resolve(self, query: ModelQuery, *, sources: Iterable[str] = ALL_SOURCES, use_cache: bool = True) -> Verdict:
        srcs = tuple(s for s in ALL_SOURCES if s in set(sources))
        key = f"{CACHE_VERSION}|{query.key()}|{','.join(srcs)}"
        if use_cache:
            hit = self.cache.get("verdicts", key, ttl=self.config.verdict_ttl)
            if hit is not None:
                verdict = Verdict.model_validate(hit[0])
                verdict.from_cache = True
                return verdict
        verdict = self._resolve(query, srcs)
        offline = self.hf is not None and self.hf.offline
        if not offline and (verdict.status != Status.NOT_FOUND or not any("failed" in s for s in verdict.searched)):
            self.cache.put("verdicts", key, verdict.model_dump(mode="json"))
        return verdict

    def _resolve(self, query: ModelQuery, sources: tuple[str, ...]) -> Verdict:
        run = _Run(query=query, info=analyze(query.filename), sources=sources)
        stages = [
            ("workflow", self._from_workflow_url),
            ("hash", self._from_hash),
            ("catalogs", self._from_catalogs),
            ("hf", self._from_hf),
            ("civitai", self._from_civitai),
        ]
        for name, stage in stages:
            if name not in sources:
                continue
            try:
                stage(run)
            except ComfyFixerError as exc:
                run.searched.append(f"{name}: failed ({exc.message})")
                run.say(name, f"error: {exc}")
            decided = self._decide(run)
            if decided is not None:
                return decided
        return self._fallback(run)

    # ------------------------------------------------------------------ decisions
    def _decide(self, run: _Run) -> Verdict | None:
        """RESOLVED when every exact candidate so far is the same file and one of them fits the workflow.

        Same file = same sha256, or the same URL when no hash is known. Two exact names with different
        (or uncomparable) contents are an ambiguity the user must settle: no verdict here, UNCERTAIN later.
        """
        if not run.exact:
            return None
        groups: dict[str, list[Candidate]] = {}
        for c in run.exact:
            groups.setdefault(c.sha256 or f"url:{_strip_query(c.url)}", []).append(c)
        if len(groups) > 1:
            run.say("resolver", f"{len(groups)} different files carry the name {run.info.basename}")
            return None
        usable = [c for c in run.exact if not any(r.startswith("- conflict") for r in c.reasons)]
        if not usable:
            return None
        best = sorted(usable, key=self._rank_key, reverse=True)
        chosen = best[0]
        others = [c for c in run.exact if c is not chosen]
        for o in others:
            if o.sha256 and o.sha256 == chosen.sha256:
                o.reasons.append("+ same sha256 as the chosen file (mirror)")
        return self._verdict(run, Status.RESOLVED, [chosen, *others][: self.config.max_candidates])

    @staticmethod
    def _rank_key(c: Candidate) -> tuple[float, ...]:
        trusted = 1.0 if c.repo and c.repo.split("/")[0] in TRUSTED_HF_AUTHORS else 0.0
        official = 1.0 if c.source in ("workflow", "civitai-hash", "catalog:templates") else 0.0
        return (c.score, official, 0.0 if c.gated else 1.0, trusted, float(c.downloads or 0))

    def _fallback(self, run: _Run) -> Verdict:
        cands: dict[str, Candidate] = {}
        for c in run.exact:
            cands.setdefault(_strip_query(c.url), c)
        if "catalogs" in run.sources and self.index is not None:
            self._pool_catalog_names(run)
        scored = self._score_pool(run)
        for c in scored:
            cands.setdefault(_strip_query(c.url), c)
        ranked = sorted(cands.values(), key=self._rank_key, reverse=True)[: self.config.max_candidates]
        if ranked:
            return self._verdict(run, Status.UNCERTAIN, ranked)
        return self._verdict(run, Status.NOT_FOUND, [])

    def _verdict(self, run: _Run, status: Status, cands: list[Candidate]) -> Verdict:
        return Verdict(query=run.query.filename, kind="model", status=status, candidates=cands,
                       searched=run.searched, evidence=run.evidence, folder=run.query.folder)

    # ------------------------------------------------------------------ candidate checks
    def _check(self, run: _Run, c: Candidate) -> Candidate:
        """Add reasons for and against: name, folder kind, base model, gating."""
        q = run.query
        if c.exact:
            c.reasons.insert(0, "+ exact filename" if c.filename == run.info.basename else f"+ hash match (named {c.filename} there)")
        if folders.conflict(q.folder, c.folder):
            c.reasons.append(f"- conflict: the source files it under {c.folder}, the workflow loads it from {q.folder}")
        elif q.folder and c.folder and folders.norm(q.folder) == folders.norm(c.folder):
            c.reasons.append(f"+ filed under {c.folder}, as the workflow expects")
        want_base = base_family(q.base_model_hint)
        got_base = base_family(c.base_model)
        if want_base and got_base:
            if want_base != got_base:
                c.reasons.append(f"- conflict: base model {c.base_model} ≠ wanted {q.base_model_hint}")
            else:
                c.reasons.append(f"+ base model {c.base_model}")
        if c.gated:
            c.reasons.append("- gated: accept the terms on the model page and set HF_TOKEN")
        elif c.needs_token:
            c.reasons.append("- download needs an API token")
        return c

    # ------------------------------------------------------------------ 1. workflow URL
    def _from_workflow_url(self, run: _Run) -> None:
        url = run.query.url_hint
        if not url:
            return
        run.searched.append(f"workflow URL {url}")
        parsed = parse_hf_url(url)
        if parsed is not None:
            repo, rev, path = parsed
            cand = Candidate(source="workflow", url=_strip_query(url), filename=path.rsplit("/", 1)[-1], score=1.0,
                             repo=repo, path=path, folder=folders.from_path(path),
                             exact=path.rsplit("/", 1)[-1] == run.info.basename)
            if self.hf is not None:
                try:
                    meta = self.hf.file_metadata(repo, path, revision=rev)
                    cand.size, cand.sha256 = meta.size, meta.sha256
                    run.say("hf", f"{repo}/{path} exists (sha256 {meta.sha256 or '?'}, {meta.size or '?'} bytes)")
                except GatedRepo:
                    cand.gated = cand.needs_token = True
                    run.say("hf", f"{repo} is gated; the file could not be checked without a token")
                except NotFound as exc:
                    run.say("hf", f"the workflow's URL is dead: {exc.message}")
                    cand.exact = False
                    cand.score = 0.3
                    cand.reasons.append("- the URL answered 404")
                except HTTPError as exc:
                    cand.reasons.append(f"- not verified ({exc.message})")
        else:
            name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            civ = "civitai.com" in url
            cand = Candidate(source="workflow", url=url, filename=run.info.basename if civ else name, score=1.0,
                             needs_token=civ, exact=civ or name == run.info.basename)
            if civ:
                cand.reasons.append("+ Civitai download named by the workflow (saved under the workflow's filename)")
                self._check_civitai_url(run, cand)
        if not cand.exact and cand.score == 1.0:
            cand.score = 0.5
            cand.reasons.append(f"- the URL names {cand.filename}, not {run.info.basename}")
        self._add(run, cand)

    def _check_civitai_url(self, run: _Run, cand: Candidate) -> None:
        """Ask Civitai which file a ``/api/download/models/{version}`` URL serves (name, sha256, early access)."""
        m = re.search(r"/api/download/models/(\d+)", cand.url)
        if m is None or self.civitai is None:
            return
        try:
            version = self.civitai.get_version(int(m.group(1)))
        except NotFound as exc:
            run.say("civitai", f"the workflow's Civitai URL is dead: {exc.message}")
            cand.exact, cand.score = False, 0.3
            cand.reasons.append(f"- {exc.message}")
            return
        except HTTPError as exc:
            cand.reasons.append(f"- not verified ({exc.message})")
            return
        file = next((f for f in version.files if f.name == run.info.basename), None)
        file = file or next((f for f in version.files if f.primary), None) or (version.files[0] if version.files else None)
        if file is not None:
            cand.sha256, cand.size = file.sha256, file.size_bytes
            cand.base_model = version.base_model
            if file.name != run.info.basename:
                cand.reasons.append(f"+ Civitai names the file {file.name}; save it as {run.info.basename}")
        _early_access(version.early_access_ends_at, cand)
        run.say("civitai", f"version {version.id} ({version.base_model}) serves {file.name if file else '?'}")

    # ------------------------------------------------------------------ 2. hashes
    def _from_hash(self, run: _Run) -> None:
        if not run.query.hashes or self.civitai is None:
            return
        ordered = sorted(run.query.hashes.items(), key=lambda kv: 0 if len(normalize_hash(kv[1])) == 64 else 1)
        for kind, value in ordered:
            h = normalize_hash(value)
            if not guess_kinds(h):
                run.say("hash", f"{kind} {value!r} is not a hash Civitai knows")
                continue
            run.searched.append(f"civitai by-hash {kind}:{h}")
            try:
                version, file = self.civitai.by_hash(h)
            except EarlyAccess as exc:
                run.say("civitai", f"hash {h}: early access until {exc.until}")
                continue
            except (NotFound, AuthRequired) as exc:
                run.say("civitai", f"hash {h}: {exc.message}")
                continue
            cand = Candidate(source="civitai-hash", url=file.download_url or self.civitai.download_url(version.id),
                             filename=file.name, size=file.size_bytes, sha256=file.sha256, score=1.0,
                             needs_token=True, repo=str(version.model_id) if version.model_id else None,
                             folder=folders.from_civitai_type(version.model.type if version.model else None),
                             base_model=version.base_model, exact=True,
                             downloads=int(version.stats.get("downloadCount") or 0) or None)
            if file.name != run.info.basename:
                cand.reasons.append(f"+ renamed upload: Civitai calls it {file.name}; save it as {run.info.basename}")
            _early_access(version.early_access_ends_at, cand)
            run.say("civitai", f"hash {h} is {file.name} in model version {version.id} ({version.base_model})")
            self._add(run, cand)
            return

    # ------------------------------------------------------------------ 3. catalogs
    def _from_catalogs(self, run: _Run) -> None:
        for hint in self.notes.lookup(run.info.basename) if self.notes is not None else []:
            where = f" under {hint.folder}" if hint.folder else ""
            run.say("notes", f"'{hint.title}' names {run.info.basename}{where}; cites {', '.join(hint.repos) or 'no HF repo'}")
        if self.index is None:
            return
        run.searched.append(f"catalogs by filename {run.info.basename} ({'; '.join(self.index.sources) or 'empty'})")
        entries = self.index.lookup(run.info.basename)
        if not entries:
            return
        _, q_sub = split_name(run.query.filename)
        for e in entries:
            cand = self._catalog_candidate(e, exact=True)
            if q_sub and e.subfolder and e.subfolder.lower() == q_sub.lower():
                cand.reasons.append(f"+ same sub-folder {e.subfolder}")
            run.say(e.source, f"{e.filename} → {e.url} ({e.origin})")
            self._add(run, cand)
        self._confirm_mirrors(run)

    def _catalog_candidate(self, e: CatalogModel, *, exact: bool) -> Candidate:
        parsed = parse_hf_url(e.url)
        return Candidate(source=e.source, url=_strip_query(e.url), filename=e.filename, score=1.0 if exact else 0.0,
                         repo=parsed[0] if parsed else None, path=parsed[2] if parsed else None,
                         folder=e.folder or (folders.from_path(parsed[2]) if parsed else None), base_model=e.base,
                         exact=exact, needs_token="civitai.com" in e.url,
                         reasons=[f"+ about {e.size} (catalog label)"] if e.size and _parse_size(e.size) else [])

    def _confirm_mirrors(self, run: _Run) -> None:
        """Catalogs may list one filename at several URLs: compare the HF copies' sha256 (X-Linked-Etag)."""
        distinct = {_strip_query(c.url): c for c in run.exact}
        if self.hf is None:
            return
        for c in list(distinct.values())[:6]:
            parsed = parse_hf_url(c.url)
            if parsed is None or c.sha256:
                continue
            try:
                meta = self._hf_meta(parsed[0], parsed[2], parsed[1])
            except GatedRepo:
                c.gated = c.needs_token = True
                continue
            except HTTPError as exc:
                c.reasons.append(f"- could not be checked: {exc.message}")
                if isinstance(exc, NotFound):
                    c.exact, c.score = False, 0.3
                continue
            c.sha256, c.size = meta.get("sha256"), meta.get("size") or c.size
        run.exact = [c for c in run.exact if c.exact]

    def _hf_meta(self, repo: str, path: str, rev: str) -> dict[str, Any]:
        assert self.hf is not None
        key = f"{self.hf.endpoint}|{repo}|{rev}|{path}"
        hit = self.cache.get("hf-meta", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return dict(hit[0])
        meta = self.hf.file_metadata(repo, path, revision=rev)
        val = {"sha256": meta.sha256, "size": meta.size}
        self.cache.put("hf-meta", key, val)
        return val

    def _pool_catalog_names(self, run: _Run) -> None:
        assert self.index is not None
        from rapidfuzz import process

        names = self.index.names()
        for name, _score, _ in process.extract(run.info.basename, names, scorer=fuzz.ratio, limit=8):
            for e in self.index.lookup(name):
                run.pool.setdefault(_strip_query(e.url), self._catalog_candidate(e, exact=False))

    # ------------------------------------------------------------------ 4. Hugging Face
    def _from_hf(self, run: _Run) -> None:
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

    def _publisher_scan(self, run: _Run, done: set[str]) -> None:
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

    def _hf_candidate(self, repo: HfRepoSummary, f: HfFile, *, exact: bool) -> Candidate:
        assert self.hf is not None
        return Candidate(source="hf", url=self.hf.resolve_url(repo.id, f.path), filename=f.name, size=f.size,
                         sha256=f.sha256, score=1.0 if exact else 0.0, gated=repo.gated or repo.private,
                         needs_token=repo.gated or repo.private, license=repo.license, repo=repo.id, path=f.path,
                         folder=folders.from_path(f.path), downloads=repo.downloads, exact=exact)

    def _repo_relevance(self, run: _Run, repo: HfRepoSummary) -> float:
        name = _compact(repo.id.split("/", 1)[-1])
        info = run.info
        score = 0.0
        for term in search_terms(info):
            if _compact(term) and _compact(term) in name:
                score += 1.0
        for w in info.words[:4]:
            if len(w) >= 3 and w in name:
                score += 0.5
        if score <= 0:
            return 0.0
        if repo.id.split("/")[0] in TRUSTED_HF_AUTHORS:
            score += 1.5
        if re.search(r"gguf", name) and info.ext != ".gguf":
            score -= 1.0
        return score + math.log10(repo.downloads + 1) / 10

    def _hf_search(self, term: str, author: str | None, *, limit: int | None = None) -> list[HfRepoSummary]:
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
        assert self.hf is not None
        key = f"{self.hf.endpoint}|{repo_id}"
        hit = self.cache.get("hf-tree", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return [HfFile.model_validate(f) for f in hit[0]]
        files = self.hf.list_files(repo_id)
        self.cache.put("hf-tree", key, [f.model_dump() for f in files])
        return files

    # ------------------------------------------------------------------ 5. Civitai search
    def _from_civitai(self, run: _Run) -> None:
        if self.civitai is None:
            return
        info = run.info
        words = [p for p in re.split(r"[_\-\s]+", info.core) if p]
        # Civitai names are prose ("Juggernaut XL"); files are often camelCase ("juggernautXL_v9").
        raw_stem = info.basename[: len(info.basename) - len(info.ext)] if info.ext else info.basename
        camel = [w.lower() for w in re.split(r"[_\-\s.]+|(?<=[a-z])(?=[A-Z])", raw_stem) if w]
        camel = [w for w in camel if w not in (info.precision_raw or "", "scaled")]
        cascade: list[str] = []
        for q in (" ".join(words), " ".join(camel), " ".join(camel[:2]), " ".join(words[:3]), " ".join(words[:2]),
                  info.family or ""):
            if q and len(q) >= 3 and q not in cascade:
                cascade.append(q)
        types = folders.CIVITAI_TYPES.get(folders.norm(run.query.folder) or "", [])
        for text in cascade:
            run.searched.append(f"civitai search {text!r}" + (f" types={','.join(types)}" if types else ""))
            models = self._civitai_search(text, types)
            hit = False
            for m in models:
                for v in m.model_versions:
                    for f in v.files:
                        cand = Candidate(
                            source="civitai", url=f.download_url or self.civitai.download_url(v.id), filename=f.name,
                            size=f.size_bytes, sha256=f.sha256, score=0.0, needs_token=True,
                            license=m.license_summary(), repo=str(m.id), folder=folders.from_civitai_type(m.type),
                            base_model=v.base_model, downloads=m.download_count, exact=f.name == info.basename)
                        _early_access(v.early_access_ends_at, cand)
                        if cand.exact:
                            cand.score = 1.0
                            hit = True
                            run.say("civitai", f"model {m.id} ({m.name}) version {v.id} has {f.name}")
                            self._add(run, cand)
                        else:
                            run.pool.setdefault(cand.url, cand)
            if hit:
                return

    def _civitai_search(self, text: str, types: list[str]) -> list[CivitaiModel]:
        assert self.civitai is not None
        key = f"{self.civitai.base_url}|{text}|{','.join(types)}|{self.config.civitai_limit}"
        hit = self.cache.get("civitai-search", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return [CivitaiModel.model_validate(m) for m in hit[0]]
        models = list(self.civitai.search_models(SearchQuery(query=text, types=types, limit=self.config.civitai_limit)))
        self.cache.put("civitai-search", key, [m.model_dump(by_alias=True) for m in models])
        return models

    # ------------------------------------------------------------------ fuzzy pool
    def _score_pool(self, run: _Run) -> list[Candidate]:
        want = run.info
        out = []
        for c in run.pool.values():
            got = analyze(c.filename)
            ratio = fuzz.ratio(want.basename.lower(), c.filename.lower()) / 100
            diffs = variant_differences(want, got)
            score = ratio - 0.04 * len(diffs)
            if score < self.config.fuzzy_threshold:
                continue
            c.score = round(max(0.0, min(score, 0.99)), 3)
            c.reasons.append(f"- name differs (similarity {ratio:.2f})")
            c.reasons += [f"- {d}" for d in diffs]
            if want.precision and got.precision == want.precision:
                c.reasons.append(f"+ same precision {want.precision}")
            self._check(run, c)
            out.append(c)
        return sorted(out, key=lambda c: c.score, reverse=True)[: self.config.max_candidates]

    def _add(self, run: _Run, cand: Candidate) -> None:
        self._check(run, cand)
        run.exact.append(cand) if cand.exact else run.pool.setdefault(_strip_query(cand.url), cand)


def _early_access(ends_at: str | None, cand: Candidate) -> None:
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


def _parse_size(text: str | None) -> int | None:
    """Manager's sizes are labels like ``335MB`` / ``4.71GB``; approximate bytes."""
    if not text:
        return None
    m = re.match(r"^\s*([\d.]+)\s*([KMGT]?)i?B\s*$", text, re.I)
    if not m:
        return None
    mult = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}[m.group(2).upper()]
    try:
        return int(float(m.group(1)) * mult)
    except ValueError:
        return None


class ResolverStats(BaseModel):
    resolved: int = 0
    uncertain: int = 0
    not_found: int = 0
