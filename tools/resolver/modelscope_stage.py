"""ModelScope stage: the same repository ids on ModelScope, when Hugging Face did not settle the query.

ModelScope mirrors many Hugging Face repositories under the same ``owner/name`` (often without the
gate Hugging Face puts on them), and it has no public full-text search. So this stage does not search:
it lists the files of the repository ids the earlier stages met — Hugging Face repositories seen in
this run, the repositories the knowledge pack cites for the file, and those of catalog URLs — and
takes an exact file-name match, with ModelScope's own SHA256 and size. Listings are cached like the
Hugging Face ones (namespace ``ms-tree``).
"""

from __future__ import annotations

from comfyfixer.tools.errors import HTTPError, InputError, NotFound
from comfyfixer.tools.huggingface.client import parse_hf_url
from comfyfixer.tools.modelscope import ModelScopeClient, MsFile
from comfyfixer.tools.resolver import folders
from comfyfixer.tools.resolver.common import Run, StageBase
from comfyfixer.tools.resolver.models import DownloadCandidate

# Repositories listed per query at most (each is one request, cached).
MS_REPO_BUDGET = 6


class ModelScopeStage(StageBase):
    """The ModelScope stage of ``ModelResolver`` (a mixin: ``modelscope``, ``cache``, ``config``, ``notes``
    and ``index`` are the resolver's)."""

    modelscope: ModelScopeClient | None

    def _ms_repos(self, run: Run) -> list[str]:
        """Repository ids worth listing, most telling first: Hugging Face repos met in this run, then the
        knowledge pack's, then those of catalog URLs for the same file name."""
        repos: list[str] = []
        for cand in [*run.exact, *run.pool.values()]:
            if cand.source == "hf" and cand.repo:
                repos.append(cand.repo)
        for hint in self.notes.lookup(run.info.basename) if self.notes is not None else []:
            repos += hint.repos
        index = getattr(self, "index", None)
        for entry in index.lookup(run.info.basename) if index is not None else []:
            parsed = parse_hf_url(entry.url)
            if parsed:
                repos.append(parsed[0])
        return list(dict.fromkeys(repos))[:MS_REPO_BUDGET]

    def _from_modelscope(self, run: Run) -> None:
        """Stage 5: exact file name in the ModelScope listing of each repository id from :meth:`_ms_repos`."""
        if self.modelscope is None:
            return
        repos = self._ms_repos(run)
        if not repos:
            run.searched.append("modelscope: no repository id to look up (it has no search)")
            return
        for repo in repos:
            try:
                files = self._ms_tree(repo)
            except (NotFound, InputError):
                run.searched.append(f"modelscope files of {repo}: no such repository")
                continue
            except HTTPError as exc:
                run.say("modelscope", f"listing {repo} failed: {exc.message}")
                continue
            run.searched.append(f"modelscope files of {repo}")
            for f in files:
                if f.name == run.info.basename or f.path.rsplit("/", 1)[-1] == run.info.basename:
                    run.say("modelscope", f"{repo} has {f.path} ({f.size or '?'} bytes, sha256 {f.sha256 or '?'})")
                    self._add(run, self._ms_candidate(repo, f))

    def _ms_candidate(self, repo: str, f: MsFile) -> DownloadCandidate:
        """An exact candidate for a listed file, with ModelScope's own SHA256 and size."""
        assert self.modelscope is not None
        return DownloadCandidate(
            source="modelscope", url=self.modelscope.download_url(repo, f.path, revision=f.revision or "master"),
            filename=f.path.rsplit("/", 1)[-1], size=f.size, sha256=(f.sha256 or "").lower() or None, score=1.0,
            exact=True, repo=repo, path=f.path, folder=folders.from_path(f.path),
            reasons=[f"+ exact file name in ModelScope's {repo}" + (" with its SHA256" if f.sha256 else "")])

    def _ms_tree(self, repo: str) -> list[MsFile]:
        """Cached ``list_files`` (namespace ``ms-tree``, keyed by endpoint)."""
        assert self.modelscope is not None
        key = f"{self.modelscope.endpoint}|{repo}"
        hit = self.cache.get("ms-tree", key, ttl=self.config.listing_ttl)
        if hit is not None:
            return [MsFile.model_validate(f) for f in hit[0]]
        files = self.modelscope.list_files(repo)
        self.cache.put("ms-tree", key, [f.model_dump(by_alias=True) for f in files])
        return files
