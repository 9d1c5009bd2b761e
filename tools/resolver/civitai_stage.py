"""Civitai stages: a workflow's Civitai URL, by-hash lookups, and full-text search with a keyword cascade.

Mixed into ``ModelResolver`` (``strategy.py``); all three need the Civitai client and are skipped
without one. Civitai file names are checked exactly (``files[].name``): a model page whose title matches
is not evidence that it serves the file the workflow names.
"""

from __future__ import annotations

import re

from comfyfixer.tools.civitai.client import CivitaiClient, SearchQuery
from comfyfixer.tools.civitai.hashes import guess_kinds, normalize_hash
from comfyfixer.tools.civitai.models import Model as CivitaiModel
from comfyfixer.tools.errors import AuthRequired, EarlyAccess, HTTPError, NotFound
from comfyfixer.tools.resolver import folders
from comfyfixer.tools.resolver.common import Run, StageBase, early_access
from comfyfixer.tools.resolver.models import DownloadCandidate


class CivitaiStage(StageBase):
    """The Civitai stages of ``ModelResolver`` (a mixin): the workflow's own Civitai URL, by-hash lookups and
    full-text search. Searches are cached under ``civitai-search``; every Civitai candidate is marked as
    needing a token (``needs_token=True``).
    """
    civitai: CivitaiClient | None

    def _check_civitai_url(self, run: Run, cand: DownloadCandidate) -> None:
        """Ask Civitai which file a ``/api/download/models/{version}`` URL serves (name, sha256, early
        access).
        """
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
        early_access(version.early_access_ends_at, cand)
        run.say("civitai", f"version {version.id} ({version.base_model}) serves {file.name if file else '?'}")

    # ------------------------------------------------------------------ 2. hashes
    def _from_hash(self, run: Run) -> None:
        """Stage 2: look each query hash up on Civitai (full hashes first); the first match becomes an exact
        candidate named as the workflow names the file. Early access and missing hashes are evidence, not
        errors.
        """
        if not run.query.hashes or self.civitai is None:
            return
        # Full hashes first: a match by one needs no confirmation.
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
            cand = DownloadCandidate(source="civitai-hash", url=file.download_url or self.civitai.download_url(version.id),
                             filename=file.name, size=file.size_bytes, sha256=file.sha256, score=1.0,
                             needs_token=True, repo=str(version.model_id) if version.model_id else None,
                             folder=folders.from_civitai_type(version.model.type if version.model else None),
                             base_model=version.base_model, exact=True,
                             downloads=int(version.stats.get("downloadCount") or 0) or None)
            if file.name != run.info.basename:
                cand.reasons.append(f"+ renamed upload: Civitai calls it {file.name}; save it as {run.info.basename}")
            early_access(version.early_access_ends_at, cand)
            run.say("civitai", f"hash {h} is {file.name} in model version {version.id} ({version.base_model})")
            self._add(run, cand)
            return

    # ------------------------------------------------------------------ 5. Civitai search
    def _from_civitai(self, run: Run) -> None:
        """Stage 5: full-text search with a cascade of shorter queries (words, camelCase split, first words,
        family), filtered by the folder's Civitai types; an exact ``files[].name`` match ends the cascade.
        """
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
                        cand = DownloadCandidate(
                            source="civitai", url=f.download_url or self.civitai.download_url(v.id), filename=f.name,
                            size=f.size_bytes, sha256=f.sha256, score=0.0, needs_token=True,
                            license=m.license_summary(), repo=str(m.id), folder=folders.from_civitai_type(m.type),
                            base_model=v.base_model, downloads=m.download_count, exact=f.name == info.basename)
                        early_access(v.early_access_ends_at, cand)
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
        """Cached ``search_models`` (namespace ``civitai-search``), keyed by base URL, text, types, limit."""
        assert self.civitai is not None
        key = f"{self.civitai.base_url}|{text}|{','.join(types)}|{self.config.civitai_limit}"
        hit = self.cache.get("civitai-search", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return [CivitaiModel.model_validate(m) for m in hit[0]]
        models = list(self.civitai.search_models(SearchQuery(query=text, types=types, limit=self.config.civitai_limit)))
        self.cache.put("civitai-search", key, [m.model_dump(by_alias=True) for m in models])
        return models

