"""Model resolver: from a missing model reference to a verdict with evidence.

Sources are asked cheapest and surest first, and the first one that settles the question ends the search:

1. ``workflow``  — the URL the workflow carries (checked with a HEAD when it is on Hugging Face);
2. ``hash``      — Civitai by-hash (a short hash is confirmed against the SHA256 in the answer);
3. ``catalogs``  — Manager's model list and template URLs, by exact filename (mirrors confirmed by sha256);
4. ``hf``        — repo search with terms derived from the filename, then an exact filename match in file
   listings;
   ``modelscope`` — the same repository ids on ModelScope (when enabled; ``modelscope_stage.py``);
5. ``civitai``   — full-text search with a keyword cascade, validating ``files[].name``.

Near-miss names found on the way become UNCERTAIN candidates, ranked with reasons; never RESOLVED.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from rapidfuzz import fuzz

from comfyfixer.tools.catalogs.model_index import ModelIndex
from comfyfixer.tools.catalogs.notes import NotesIndex
from comfyfixer.tools.civitai.client import CivitaiClient
from comfyfixer.tools.errors import ComfyFixerError, HTTPError, NotFound
from comfyfixer.tools.huggingface.client import (
    GatedRepo,
    HuggingFaceClient,
    parse_hf_url,
)
from comfyfixer.tools.modelscope import ModelScopeClient
from comfyfixer.tools.resolver import folders
from comfyfixer.tools.resolver.cache import DiskCache, NullCache
from comfyfixer.tools.resolver.civitai_stage import CivitaiStage
from comfyfixer.tools.resolver.common import TRUSTED_HF_AUTHORS, ResolverConfig, Run, strip_query
from comfyfixer.tools.resolver.hf_stage import HfStage
from comfyfixer.tools.resolver.models import (
    ALL_SOURCES,
    DownloadCandidate,
    ModelQuery,
    ResolveStatus,
    Verdict,
)
from comfyfixer.tools.resolver.modelscope_stage import ModelScopeStage
from comfyfixer.tools.resolver.tokens import (
    analyze,
    base_family,
    split_name,
    variant_differences,
)

log = logging.getLogger(__name__)

CACHE_VERSION = "v1"


class ModelResolver(HfStage, ModelScopeStage, CivitaiStage):
    """Resolves :class:`ModelQuery` objects. Clients, catalog index and cache are injected; any may be None.

    A missing client or index just skips its stage (offline runs, tests). Verdicts are cached per query and
    set of sources under ``CACHE_VERSION`` (bump it when the decision rules change, so old verdicts are not
    served).
    """

    def __init__(
        self,
        *,
        index: ModelIndex | None = None,
        hf: HuggingFaceClient | None = None,
        civitai: CivitaiClient | None = None,
        cache: DiskCache | None = None,
        config: ResolverConfig | None = None,
        notes: NotesIndex | None = None,
        modelscope: ModelScopeClient | None = None,
    ) -> None:
        self.modelscope = modelscope
        self.index = index
        self.notes = notes
        self.hf = hf
        self.civitai = civitai
        self.cache = cache or NullCache()
        self.config = config or ResolverConfig()

    # ------------------------------------------------------------------ entry point
    def resolve(self, query: ModelQuery, *, sources: Iterable[str] = ALL_SOURCES, use_cache: bool = True) -> Verdict:
        """Ask the sources in order until one settles the query, and return the verdict.

        ``sources`` limits the stages (order is always that of ``ALL_SOURCES``). A stage that fails with a
        project error is noted in ``searched``/``evidence`` and the next stage runs. With ``use_cache`` a
        cached verdict is returned as is (``from_cache=True``). A verdict is not cached in offline mode, nor
        when it is NOT_FOUND after a stage failed, so a network hiccup is not remembered as "no such file".
        """
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
        if not offline and (verdict.status != ResolveStatus.NOT_FOUND or not any("failed" in s for s in verdict.searched)):
            self.cache.put("verdicts", key, verdict.model_dump(mode="json"))
        return verdict

    def _resolve(self, query: ModelQuery, sources: tuple[str, ...]) -> Verdict:
        """Run the stages allowed by ``sources`` in order, stopping at the first that settles the query; a
        stage that raises a project error is recorded and skipped. Falls back to ranking everything seen.
        """
        run = Run(query=query, info=analyze(query.filename), sources=sources)
        stages = [
            ("workflow", self._from_workflow_url),
            ("hash", self._from_hash),
            ("catalogs", self._from_catalogs),
            ("hf", self._from_hf),
            ("modelscope", self._from_modelscope),
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
    def _decide(self, run: Run) -> Verdict | None:
        """RESOLVED when every exact candidate so far is the same file and one of them fits the workflow.

        Same file = same sha256, or the same URL when no hash is known. Two exact names with different
        (or uncomparable) contents are an ambiguity the user must settle: no verdict here, UNCERTAIN later.
        """
        if not run.exact:
            return None
        groups: dict[str, list[DownloadCandidate]] = {}
        for c in run.exact:
            groups.setdefault(c.sha256 or f"url:{strip_query(c.url)}", []).append(c)
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
        return self._verdict(run, ResolveStatus.RESOLVED, [chosen, *others][: self.config.max_candidates])

    @staticmethod
    def _rank_key(c: DownloadCandidate) -> tuple[float, ...]:
        """Sort key: score, then official sources, then ungated, then trusted publishers, then downloads."""
        trusted = 1.0 if c.repo and c.repo.split("/")[0] in TRUSTED_HF_AUTHORS else 0.0
        official = 1.0 if c.source in ("workflow", "civitai-hash", "catalog:templates") else 0.0
        return (c.score, official, 0.0 if c.gated else 1.0, trusted, float(c.downloads or 0))

    def _fallback(self, run: Run) -> Verdict:
        """No stage settled it: exact candidates first, then near misses (catalog names included) that pass
        the fuzzy threshold, best ``max_candidates`` as UNCERTAIN; NOT_FOUND when there are none.
        """
        cands: dict[str, DownloadCandidate] = {}
        for c in run.exact:
            cands.setdefault(strip_query(c.url), c)
        if "catalogs" in run.sources and self.index is not None:
            self._pool_catalog_names(run)
        scored = self._score_pool(run)
        for c in scored:
            cands.setdefault(strip_query(c.url), c)
        ranked = sorted(cands.values(), key=self._rank_key, reverse=True)[: self.config.max_candidates]
        if ranked:
            return self._verdict(run, ResolveStatus.UNCERTAIN, ranked)
        return self._verdict(run, ResolveStatus.NOT_FOUND, [])

    def _verdict(self, run: Run, status: ResolveStatus, cands: list[DownloadCandidate]) -> Verdict:
        return Verdict(query=run.query.filename, kind="model", status=status, candidates=cands,
                       searched=run.searched, evidence=run.evidence, folder=run.query.folder)

    # ------------------------------------------------------------------ candidate checks
    def _check(self, run: Run, c: DownloadCandidate) -> DownloadCandidate:
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
    def _from_workflow_url(self, run: Run) -> None:
        """Stage 1: the URL the workflow carries. A Hugging Face URL is checked with a HEAD (size, sha256; a
        404 demotes it); a Civitai URL is asked which file it serves. A URL for another file name is only a
        candidate.
        """
        url = run.query.url_hint
        if not url:
            return
        run.searched.append(f"workflow URL {url}")
        parsed = parse_hf_url(url)
        if parsed is not None:
            repo, rev, path = parsed
            cand = DownloadCandidate(source="workflow", url=strip_query(url), filename=path.rsplit("/", 1)[-1], score=1.0,
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
            cand = DownloadCandidate(source="workflow", url=url, filename=run.info.basename if civ else name, score=1.0,
                             needs_token=civ, exact=civ or name == run.info.basename)
            if civ:
                cand.reasons.append("+ Civitai download named by the workflow (saved under the workflow's filename)")
                self._check_civitai_url(run, cand)
        # The workflow's URL is real evidence, but for another file name: a candidate, not an answer.
        if not cand.exact and cand.score == 1.0:
            cand.score = 0.5
            cand.reasons.append(f"- the URL names {cand.filename}, not {run.info.basename}")
        self._add(run, cand)

    # ------------------------------------------------------------------ 3. catalogs
    def _from_catalogs(self, run: Run) -> None:
        """Stage 3: note what the knowledge notes say about the file, then add every catalog entry with
        exactly this basename and confirm mirrors by sha256.
        """
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

    def _catalog_candidate(self, e: DownloadCandidate, *, exact: bool) -> DownloadCandidate:
        """A catalog entry as a candidate: query string stripped, repo and path parsed from Hugging Face URLs,
        folder from the entry or the path, Civitai URLs marked as needing a token.
        """
        parsed = parse_hf_url(e.url)
        return e.model_copy(update={
            "url": strip_query(e.url), "score": 1.0 if exact else 0.0, "exact": exact,
            "repo": parsed[0] if parsed else None, "path": parsed[2] if parsed else None,
            "folder": e.folder or (folders.from_path(parsed[2]) if parsed else None),
            "needs_token": "civitai.com" in e.url,
            "reasons": [f"+ about {e.size_label} (catalog label)"] if e.size_label and _parse_size(e.size_label) else [],
        }, deep=True)

    def _confirm_mirrors(self, run: Run) -> None:
        """Catalogs may list one filename at several URLs: compare the HF copies' sha256 (X-Linked-Etag)."""
        distinct = {strip_query(c.url): c for c in run.exact}
        if self.hf is None:
            return
        # At most six HEAD requests per query, however many mirrors a catalog lists.
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

    def _pool_catalog_names(self, run: Run) -> None:
        """Add the catalog entries of the eight names most similar to the wanted basename to the near-miss
        pool.
        """
        assert self.index is not None
        from rapidfuzz import process

        names = self.index.names()
        for name, _score, _ in process.extract(run.info.basename, names, scorer=fuzz.ratio, limit=8):
            for e in self.index.lookup(name):
                run.pool.setdefault(strip_query(e.url), self._catalog_candidate(e, exact=False))

    # ------------------------------------------------------------------ fuzzy pool
    def _score_pool(self, run: Run) -> list[DownloadCandidate]:
        """Score near-miss candidates: name similarity minus 0.04 per variant difference, kept above
        ``fuzzy_threshold`` and capped at 0.99 so a near miss never looks exact.
        """
        want = run.info
        out = []
        for c in run.pool.values():
            got = analyze(c.filename)
            ratio = fuzz.ratio(want.basename.lower(), c.filename.lower()) / 100
            diffs = variant_differences(want, got)
            # Each variant difference costs a little, so the closest variant of a similar name ranks first.
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

    def _add(self, run: Run, cand: DownloadCandidate) -> None:
        self._check(run, cand)
        run.exact.append(cand) if cand.exact else run.pool.setdefault(strip_query(cand.url), cand)


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


__all__ = ["ModelResolver", "ResolverConfig"]
