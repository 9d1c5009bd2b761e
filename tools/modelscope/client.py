"""ModelScope (``modelscope.cn``), the third public model hub next to Hugging Face and Civitai.

Endpoints (as the official ``modelscope`` SDK calls them, ``modelscope/hub/api.py``: ``get_model`` and
``get_model_files``; no token is needed for public repositories):

* ``GET /api/v1/models/{owner}/{name}`` → ``{"Code": 200, "Success": true, "Data": {"Name", "Path"
  (the owner), "License", "Downloads", "Tags", …}}``;
* ``GET /api/v1/models/{owner}/{name}/repo/files?Revision=master&Recursive=true`` →
  ``{"Code": 200, "Data": {"Files": [{"Name", "Path", "Type" ("blob" | "tree"), "Size", "Sha256",
  "Revision", "IsLFS", …}]}}`` — without ``Recursive=true`` only the top level is listed;
* ``GET /api/v1/models/{owner}/{name}/repo?Revision=master&FilePath={path}`` streams the file (the
  download URL; the downloader checks its host against the allow-list on every hop).

Errors come as HTTP statuses and/or ``Success: false`` with a ``Message``; both map to the project's
HTTP errors (``NotFound`` for an unknown repository). Requests are spaced by ``min_interval`` and
retried with backoff like the other clients.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from comfyfixer.tools.errors import InputError, NotFound, TransportError, UpstreamError
from comfyfixer.tools.http import (
    RateGate,
    RetryPolicy,
    ServiceClient,
    build_client,
    is_html,
    raise_for_status,
    send_with_retry,
)

DEFAULT_ENDPOINT = "https://modelscope.cn"
SERVICE = "ModelScope"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class MsFile(_Lenient):
    """One file of a repository listing; ``sha256`` is ModelScope's own (published for LFS files)."""

    name: str = Field(alias="Name")
    path: str = Field(alias="Path")
    type: str = Field(default="blob", alias="Type")
    size: int | None = Field(default=None, alias="Size")
    sha256: str | None = Field(default=None, alias="Sha256")
    revision: str | None = Field(default=None, alias="Revision")
    is_lfs: bool | None = Field(default=None, alias="IsLFS")


class MsModelInfo(_Lenient):
    """A repository's card data: ``owner`` is ModelScope's ``Path`` field."""

    name: str = Field(alias="Name")
    owner: str = Field(default="", alias="Path")
    license: str | None = Field(default=None, alias="License")
    downloads: int = Field(default=0, alias="Downloads")
    tags: list[str] = Field(default_factory=list, alias="Tags")

    @property
    def repo_id(self) -> str:
        return f"{self.owner}/{self.name}" if self.owner else self.name


_HOSTS = re.compile(r"^(?:www\.)?modelscope\.(?:cn|ai)$", re.I)


def parse_modelscope_url(text: str) -> tuple[str, str, str] | None:
    """``(repo_id, revision, file path or "")`` of a ModelScope model URL, or None for anything else.

    The forms the site and the SDK use: ``/models/{owner}/{name}`` (and ``/files``, ``/summary``),
    ``/models/{owner}/{name}/file/view/{rev}/{path}``, ``/models/{owner}/{name}/resolve/{rev}/{path}`` and the
    API download ``/api/v1/models/{owner}/{name}/repo?Revision=…&FilePath=…``; a missing scheme is allowed,
    the path is percent-decoded. Only ``modelscope.cn`` and ``modelscope.ai`` hosts count.
    """
    raw = text.strip()
    url = urlsplit(raw if "://" in raw else f"https://{raw}")
    if not _HOSTS.match(url.hostname or ""):
        return None
    parts = [unquote(p) for p in url.path.split("/") if p]
    if parts[:3] == ["api", "v1", "models"] and len(parts) >= 5:
        query = parse_qs(url.query)
        repo = f"{parts[3]}/{parts[4]}"
        return repo, (query.get("Revision") or ["master"])[0], (query.get("FilePath") or [""])[0].lstrip("/")
    if len(parts) < 3 or parts[0] != "models":
        return None
    repo, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    if len(rest) >= 4 and rest[:2] == ["file", "view"]:
        return repo, rest[2], "/".join(rest[3:])
    if len(rest) >= 3 and rest[0] == "resolve":
        return repo, rest[1], "/".join(rest[2:])
    return repo, "master", ""


def _check_repo_id(repo_id: str) -> None:
    """Refuse anything but ``owner/name`` (no traversal, no extra path segments)."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(p and p not in (".", "..") and p.replace("-", "").replace("_", "").replace(".", "")
                                  .isalnum() for p in parts):
        raise InputError(f"{repo_id!r} is not a ModelScope repository id", hint="use owner/name")


class ModelScopeClient(ServiceClient):
    """Typed ModelScope client; ``offline`` refuses every call before any request (``TransportError``)."""

    def __init__(self, *, endpoint: str = DEFAULT_ENDPOINT, timeout: float = 30.0, retries: int = 4,
                 min_interval: float = 0.25, offline: bool = False, client: httpx.Client | None = None,
                 policy: RetryPolicy | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.offline = offline
        self._http = client or build_client(base_url=self.endpoint, timeout=timeout)
        self._policy = policy or RetryPolicy(retries=retries)
        self._gate = RateGate(min_interval)

    def _get(self, path: str, repo_id: str) -> Any:
        """GET ``path``: the ``Data`` of a successful answer, else a mapped error."""
        if self.offline:
            raise TransportError("offline mode: ModelScope was not asked", hint="unset COMFYFIXER_OFFLINE")
        resp = send_with_retry(self._http, "GET", path, policy=self._policy, gate=self._gate)
        url = str(resp.request.url)
        if resp.status_code == 404:
            raise NotFound(f"ModelScope has no repository {repo_id}", url=url, status=404,
                           hint="check the owner/name, or that the repository is public")
        raise_for_status(resp, service=SERVICE)
        if is_html(resp):
            raise UpstreamError("ModelScope answered with a web page instead of data", url=url, status=resp.status_code)
        try:
            body = resp.json()
        except ValueError:
            raise UpstreamError("ModelScope sent a body that is not JSON", url=url, status=resp.status_code) from None
        if not isinstance(body, dict):
            raise UpstreamError("ModelScope sent an unexpected answer", url=url, status=resp.status_code)
        if body.get("Success") is False or body.get("Code") not in (None, 200):
            message = str(body.get("Message") or "request failed")
            code = body.get("Code")
            status = code if isinstance(code, int) and 100 <= code < 600 else resp.status_code
            raise NotFound(f"ModelScope: {message} ({repo_id})", url=url, status=status,
                           hint="check the owner/name, or that the repository is public")
        return body.get("Data")

    def model_info(self, repo_id: str) -> MsModelInfo:
        """``GET /api/v1/models/{owner}/{name}``."""
        _check_repo_id(repo_id)
        data = self._get(f"/api/v1/models/{repo_id}", repo_id)
        return MsModelInfo.model_validate(data or {"Name": repo_id.split("/")[1], "Path": repo_id.split("/")[0]})

    def list_files(self, repo_id: str, *, revision: str = "master") -> list[MsFile]:
        """Every file (not folder) of ``repo_id`` at ``revision``, recursively."""
        _check_repo_id(repo_id)
        query = urlencode({"Revision": revision, "Recursive": "true"})
        data = self._get(f"/api/v1/models/{repo_id}/repo/files?{query}", repo_id) or {}
        files = data.get("Files") if isinstance(data, dict) else None
        return [MsFile.model_validate(f) for f in files or [] if isinstance(f, dict) and f.get("Type") != "tree"]

    def download_url(self, repo_id: str, path: str, *, revision: str = "master") -> str:
        """The public download URL of one file."""
        _check_repo_id(repo_id)
        return f"{self.endpoint}/api/v1/models/{repo_id}/repo?Revision={quote(revision)}&FilePath={quote(path)}"
