"""Hugging Face Hub client: repo search, file listings with sizes and sha256, file metadata, gated repos.

Calls go through our own ``httpx`` client (timeouts, retries, origin-bound token, configurable
endpoint) and errors are classified by ``huggingface_hub``'s own dispatcher on the ``X-Error-Code``
header, so behaviour matches the official library: a gated repo raises ``GatedRepoError`` (checked
before its parent ``RepositoryNotFoundError``), a private or missing one ``RepositoryNotFoundError``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import hf_raise_for_status
from pydantic import BaseModel, Field

from comfyfixer.tools.civitai.hashes import normalize_hash
from comfyfixer.tools.errors import AuthRequired, HTTPError, InputError, NotFound, TransportError
from comfyfixer.tools.http import (
    RateGate,
    RetryPolicy,
    ServiceClient,
    build_client,
    raise_for_status,
    send_with_retry,
)

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
HF_HOSTS = ("huggingface.co", "hf.co")
SERVICE = "Hugging Face"


class GatedRepo(AuthRequired):
    """The repo exists but is gated: accept its terms on the website and use a token (``HF_TOKEN``)."""

    def __init__(self, message: str, *, repo_id: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.repo_id = repo_id


class HfRepoSummary(BaseModel):
    """One search hit: repo ``id`` (``owner/name``), download and like counts, whether it is ``gated`` or
    ``private``, and its tags (``license:…`` among them).
    """

    id: str
    downloads: int = 0
    likes: int = 0
    gated: bool = Field(False, description="Needs accepting terms and a token.")
    private: bool = False
    tags: list[str] = Field(default_factory=list)

    @property
    def license(self) -> str | None:
        """The licence id from a ``license:<id>`` tag, or None."""
        return next((t.split(":", 1)[1] for t in self.tags if t.startswith("license:")), None)


class HfFile(BaseModel):
    """A file of a repo; ``sha256`` only for LFS files (``lfs.sha256`` in siblings, ``lfs.oid`` in trees).

    ``path`` is relative to the repo root (with sub-folders), ``size`` in bytes (exact), ``blob_id`` the
    git blob id (the only content id of a non-LFS file).
    """

    path: str
    size: int | None = None
    sha256: str | None = None
    blob_id: str | None = None

    @property
    def name(self) -> str:
        """The file name without its folders."""
        return self.path.rsplit("/", 1)[-1]


class HfRepoInfo(BaseModel):
    """One repo from ``/api/models/{repo}``: flags, total downloads, licence (from the model card, else a
    ``license:`` tag), the commit ``sha`` of the revision asked and its files.
    """
    id: str
    gated: bool = False
    private: bool = False
    downloads: int = 0
    license: str | None = None
    sha: str | None = None
    files: list[HfFile] = Field(default_factory=list)


class HfFileMetadata(BaseModel):
    """What ``HEAD /{repo}/resolve/{rev}/{file}`` says, read from the Hub's own headers, never the CDN's.

    ``url`` is the stable resolve URL asked; ``commit`` the revision it resolved to (``X-Repo-Commit``),
    worth pinning in a plan; ``etag`` the normalised ``X-Linked-Etag``/``ETag``; ``size`` in bytes.
    """

    url: str
    commit: str | None = None
    sha256: str | None = Field(None, description="From X-Linked-Etag: the content sha256 for LFS files.")
    etag: str | None = None
    size: int | None = None
    location: str | None = Field(None, description="Signed CDN URL; expires, never persist it.")


def _gated(value: Any) -> bool:
    return bool(value) and value not in ("false", "False")


class HuggingFaceClient(ServiceClient):
    """Typed Hub client. ``endpoint`` is ``HF_ENDPOINT``'s value; ``offline`` refuses every network call.

    The token is bound to the Hub origins and ``endpoint`` (a mirror gets it too, because it is the
    endpoint the user configured). In offline mode every method raises ``TransportError`` before any
    request. Gated repos raise :class:`GatedRepo`; missing, private and wrong-revision ones ``NotFound``.
    """

    def __init__(
        self,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        offline: bool = False,
        min_interval: float = 0.0,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.offline = offline
        self._http = client or build_client(
            base_url=self.endpoint, timeout=timeout, token=token, token_origins=(*HF_HOSTS, self.endpoint)
        )
        self._policy = policy or RetryPolicy(retries=retries)
        self._gate = RateGate(min_interval)


    # ---------------------------------------------------------------- plumbing
    def _send(self, method: str, path: str, *, repo_id: str | None = None, **kw: Any) -> httpx.Response:
        """Send one request (refused in offline mode) with retries, raising mapped errors for 4xx/5xx."""
        if self.offline:
            raise TransportError("offline mode: Hugging Face was not asked",
                                 hint="unset COMFYFIXER_OFFLINE / HF_HUB_OFFLINE to search online")
        resp = send_with_retry(self._http, method, path, policy=self._policy, gate=self._gate, **kw)
        if resp.status_code >= 400:
            self._raise(resp, repo_id)
        return resp

    def _raise(self, resp: httpx.Response, repo_id: str | None) -> None:
        """Map a Hub error response with ``huggingface_hub``'s classifier (``X-Error-Code``): gated →
        ``GatedRepo``; missing repo, revision or file → ``NotFound``; anything else → the shared mapping.
        """
        url = str(resp.request.url)
        try:
            hf_raise_for_status(resp)
        except GatedRepoError as exc:  # before RepositoryNotFoundError: it is a subclass
            raise GatedRepo(f"{repo_id or 'this repo'} is gated on Hugging Face", repo_id=repo_id or "",
                            url=url, status=resp.status_code,
                            hint="accept its terms on the model page and set HF_TOKEN") from exc
        except RepositoryNotFoundError as exc:
            raise NotFound(f"{repo_id or 'repo'}: missing, private, or needs a token", url=url,
                           status=resp.status_code, hint="check the repo id; set HF_TOKEN for private repos") from exc
        except RevisionNotFoundError as exc:
            raise NotFound(f"{repo_id}: revision not found", url=url, status=resp.status_code) from exc
        except EntryNotFoundError as exc:
            raise NotFound(f"{repo_id}: file not found", url=url, status=resp.status_code) from exc
        except HfHubHTTPError:
            pass  # fall through to the generic mapping (401 bad token, 429, 5xx)
        raise_for_status(resp, service=SERVICE)

    def _json(self, resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError as exc:
            raise HTTPError("Hugging Face sent a body that is not JSON", url=str(resp.request.url),
                            status=resp.status_code, body_excerpt=resp.text[:200]) from exc

    # ---------------------------------------------------------------- search
    def search_models(self, search: str, *, author: str | None = None, limit: int = 20,
                      sort: str = "downloads") -> list[HfRepoSummary]:
        """``GET /api/models?search=`` (substring of the repo id), most downloaded first; first page only.

        Raises ``TransportError`` in offline mode. ``limit`` is passed to the Hub as is.
        """
        params: dict[str, Any] = {"search": search, "limit": limit, "sort": sort, "direction": -1}
        if author:
            params["author"] = author
        data = self._json(self._send("GET", "/api/models", params=params))
        out = []
        for item in data if isinstance(data, list) else []:
            rid = item.get("id") or item.get("modelId")
            if not rid:
                continue
            out.append(HfRepoSummary(id=rid, downloads=int(item.get("downloads") or 0),
                                     likes=int(item.get("likes") or 0), gated=_gated(item.get("gated")),
                                     private=bool(item.get("private")), tags=list(item.get("tags") or [])))
        return out

    # ---------------------------------------------------------------- repo files
    def list_files(self, repo_id: str, *, revision: str = "main") -> list[HfFile]:
        """All files with sizes and sha256: ``/tree/{rev}?recursive=true`` (paginated by ``Link``).

        Stops after 50 pages so a huge dataset-like repo cannot keep a check busy; directories are left out.
        Raises ``InputError`` for a malformed repo id.
        """
        _check_repo_id(repo_id)
        url: str | None = f"/api/models/{repo_id}/tree/{quote(revision, safe='')}"
        params: dict[str, Any] | None = {"recursive": "true"}
        files: list[HfFile] = []
        pages = 0
        while url and pages < 50:
            resp = self._send("GET", url, repo_id=repo_id, params=params)
            for item in self._json(resp) or []:
                if item.get("type") != "file":
                    continue
                lfs = item.get("lfs") or {}
                files.append(HfFile(path=item["path"], size=item.get("size"),
                                    sha256=normalize_hash(lfs["oid"]) if lfs.get("oid") else None,
                                    blob_id=item.get("oid")))
            url = resp.links.get("next", {}).get("url")
            params = None
            pages += 1
        return files

    def repo_info(self, repo_id: str, *, revision: str | None = None) -> HfRepoInfo:
        """``/api/models/{repo}?blobs=true``: gated/private flags, license, and siblings with ``lfs.sha256``.

        One request instead of a tree walk; ``revision`` None means the default branch.
        """
        _check_repo_id(repo_id)
        path = f"/api/models/{repo_id}" + (f"/revision/{quote(revision, safe='')}" if revision else "")
        data = self._json(self._send("GET", path, repo_id=repo_id, params={"blobs": "true"}))
        files = []
        for s in data.get("siblings") or []:
            lfs = s.get("lfs") or {}
            files.append(HfFile(path=s["rfilename"], size=s.get("size") or lfs.get("size"),
                                sha256=normalize_hash(lfs["sha256"]) if lfs.get("sha256") else None,
                                blob_id=s.get("blobId")))
        card = data.get("cardData") or {}
        lic = card.get("license") if isinstance(card, dict) else None
        if not lic:
            lic = next((t.split(":", 1)[1] for t in data.get("tags") or [] if str(t).startswith("license:")), None)
        return HfRepoInfo(id=data.get("id") or repo_id, gated=_gated(data.get("gated")),
                          private=bool(data.get("private")), downloads=int(data.get("downloads") or 0),
                          license=lic, sha=data.get("sha"), files=files)

    def resolve_url(self, repo_id: str, filename: str, *, revision: str = "main") -> str:
        """The stable download URL (``{endpoint}/{repo}/resolve/{rev}/{file}``); no request is made. Raises
        ``InputError`` for a malformed repo id.
        """
        _check_repo_id(repo_id)
        return f"{self.endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"

    def file_metadata(self, repo_id: str, filename: str, *, revision: str = "main") -> HfFileMetadata:
        """``HEAD`` the resolve URL without following the CDN redirect; sha256 from ``X-Linked-Etag``.

        ``sha256`` is set only when that etag is 64 hex (LFS files); a plain git file's etag is its blob id.
        ``Accept-Encoding: identity`` keeps the size the file's own, not a compressed one. Raises
        ``NotFound`` or :class:`GatedRepo` like the other calls.
        """
        url = self.resolve_url(repo_id, filename, revision=revision)
        resp = self._send("HEAD", url, repo_id=repo_id, follow_redirects=False,
                          headers={"Accept-Encoding": "identity"})
        h = resp.headers
        linked = h.get("X-Linked-Etag")
        etag = normalize_hash(linked or h.get("ETag") or "") or None
        # On a redirect Content-Length is the redirect body's length, not the file's.
        size_raw = h.get("X-Linked-Size") or (None if resp.is_redirect else h.get("Content-Length"))
        return HfFileMetadata(
            url=url, commit=h.get("X-Repo-Commit"), etag=etag,
            sha256=etag if etag and len(etag) == 64 else None,
            size=int(size_raw) if size_raw and size_raw.isdigit() else None,
            location=h.get("Location") if resp.is_redirect else None,
        )

    def file_exists(self, repo_id: str, filename: str, *, revision: str = "main") -> bool:
        """True when the file is there; gated repos raise :class:`GatedRepo` (existence is unknowable)."""
        try:
            self.file_metadata(repo_id, filename, revision=revision)
        except NotFound:
            return False
        return True


def _check_repo_id(repo_id: str) -> None:
    """``InputError`` unless ``repo_id`` is exactly ``owner/name`` with no empty or dot segments (it goes
    into URL paths).
    """
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or any(p in (".", "..") for p in parts):
        raise InputError(f"{repo_id!r} is not a Hugging Face repo id", hint="use owner/name")


def parse_hf_url(url: str) -> tuple[str, str, str] | None:
    """``(repo_id, revision, path)`` of a ``…/{owner}/{name}/(resolve|blob)/{rev}/{path}`` URL.

    Any host is accepted (mirrors); the path is percent-decoded. None for anything else (dataset and space
    URLs, repo pages, unparsable text).
    """
    try:
        u = httpx.URL(url)
    except Exception:
        return None
    parts = [p for p in u.path.split("/") if p]
    if len(parts) >= 5 and parts[2] in ("resolve", "blob"):
        from urllib.parse import unquote

        return f"{parts[0]}/{parts[1]}", parts[3], unquote("/".join(parts[4:]))
    return None
