"""Civitai REST API v1 client: search, model/version lookup, by-hash (single and bulk), images, downloads.

The token goes only to https://civitai.com and the configured base URL's origin, is sent as a Bearer
header, and never appears in logs or errors (``_clean`` also strips a ``token`` query parameter from
URLs shown in errors). Idempotent calls are retried with backoff on 429/5xx, except the "too many
pages" 429, which no wait can fix. Requests are spaced by a :class:`RateGate` (0.25 s by default,
for politeness).

Civitai's own error shapes are mapped onto ``tools/errors.py``: 401 or an HTML login page →
``AuthRequired``, 403 "early access" → ``EarlyAccess``, 404 and archived/taken-down models →
``NotFound``; anything else goes through the shared ``raise_for_status``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, Field

from comfyfixer.tools.civitai.hashes import HashKind, confirms, guess_kinds, is_short, normalize_hash
from comfyfixer.tools.civitai.models import Image, ImagePage, Model, ModelFile, ModelPage, ModelVersion
from comfyfixer.tools.errors import AuthRequired, EarlyAccess, HTTPError, InputError, NotFound, RateLimited
from comfyfixer.tools.http import (
    RateGate,
    RetryPolicy,
    ServiceClient,
    build_client,
    is_html,
    raise_for_status,
    send_with_retry,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://civitai.com"
CIVITAI_HOSTS = ("civitai.com",)
TOO_MANY_PAGES = "too many pages"
SERVICE = "Civitai"


class SearchQuery(BaseModel):
    """Parameters of ``GET /api/v1/models`` (full-text search uses cursor pagination).

    Values are passed through as Civitai spells them; the client does not check type or base-model names,
    so a misspelt one simply matches nothing.
    """

    query: str | None = Field(None, description="Full-text search over model names, tags and creators.")
    types: list[str] = Field(default_factory=list, description="Model types, e.g. Checkpoint, LORA, VAE, Controlnet.")
    base_models: list[str] = Field(default_factory=list, description="Base models, e.g. 'SDXL 1.0', 'Flux.1 D'.")
    sort: str | None = Field(None, description="'Highest Rated', 'Most Downloaded' or 'Newest'.")
    limit: int = Field(20, ge=1, le=100, description="Items per page (1-100).")
    nsfw: bool | None = Field(None, description="Include NSFW models.")
    username: str | None = Field(None, description="Only this creator's models.")


class DownloadProbe(BaseModel):
    """What ``/api/download/models/{id}`` answered without following the redirect.

    ``status`` is the HTTP status of that first answer (a 3xx when a signed URL was given, 2xx when Civitai
    answered without redirecting). ``signed_url`` is short-lived: use it at once, never store it.
    """

    url: str = Field(description="The download URL asked (no token in it).")
    signed_url: str | None = Field(None, description="Where it redirects: a short-lived signed storage URL.")
    status: int


def _is_civitai_host(host: str) -> bool:
    return host == "civitai.com" or host.endswith(".civitai.com")


class CivitaiClient(ServiceClient):
    """Typed Civitai client. Build one per run; close it (or use it as a context manager).

    ``token`` is bound to the Civitai origins; ``retries`` and ``timeout`` (seconds) apply per request;
    ``min_interval`` spaces requests (seconds). Tests pass ``client`` (an ``httpx.Client`` on a mock
    transport or a cassette) and ``policy`` (a ``RetryPolicy`` that does not sleep).
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        min_interval: float = 0.25,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Only to word a 401: "needs a token" when none was set, "token refused" when one was.
        self._has_token = bool(token)
        self._http = client or build_client(
            base_url=self.base_url, timeout=timeout, token=token, token_origins=(*CIVITAI_HOSTS, self.base_url)
        )
        self._policy = policy or RetryPolicy(retries=retries)
        self._gate = RateGate(min_interval)


    # ---------------------------------------------------------------- plumbing
    def _get(self, path: str, params: list[tuple[str, str]] | dict[str, Any] | None = None) -> Any:
        """GET ``path`` with retries (except the "too many pages" 429) and return its JSON (see ``_json``)."""
        resp = send_with_retry(
            self._http, "GET", path, params=params, policy=self._policy, gate=self._gate,
            should_retry=lambda r: not _is_pagination_429(r),
        )
        return self._json(resp)

    def _json(self, resp: httpx.Response) -> Any:
        """The response's JSON after mapping errors; an HTML page (a login wall) raises ``AuthRequired`` and a
        body that is not JSON ``HTTPError``.
        """
        self._raise(resp)
        if is_html(resp):
            raise AuthRequired(
                "Civitai answered with a web page instead of data (usually its login page)",
                url=_clean(resp.request.url), status=resp.status_code,
                hint="set CIVITAI_API_TOKEN to a token from civitai.com/user/account",
            )
        try:
            return resp.json()
        except ValueError as exc:
            raise HTTPError("Civitai sent a body that is not JSON", url=_clean(resp.request.url),
                            status=resp.status_code, body_excerpt=resp.text[:200]) from exc

    def _raise(self, resp: httpx.Response) -> None:
        """Map an error response to the project's HTTP errors, using Civitai's own error text for the
        too-many-pages 429, early access and 404 messages; everything else goes to ``raise_for_status``.
        """
        if resp.status_code < 400:
            return
        url = _clean(resp.request.url)
        body = _error_body(resp)
        msg = str(body.get("error") or body.get("message") or "")
        if resp.status_code == 429 and TOO_MANY_PAGES in msg.lower():
            raise RateLimited("Civitai refuses page numbers this deep", url=url, status=429,
                              hint="use cursor pagination (the client does this for searches)")
        if resp.status_code == 403 and "early access" in msg.lower():
            deadline = body.get("deadline")
            raise EarlyAccess(
                f"this Civitai model is in early access{f' until {deadline}' if deadline else ''}",
                until=str(deadline) if deadline else None, url=url, status=403,
                hint="buy early access on its Civitai page, or wait until it ends",
            )
        if resp.status_code == 401:
            raise AuthRequired(
                "Civitai needs an API token for this" if not self._has_token
                else "Civitai did not accept the API token",
                url=url, status=401,
                hint="set CIVITAI_API_TOKEN (create one at civitai.com/user/account)",
            )
        if resp.status_code == 404:
            raise NotFound(f"Civitai: {msg or 'not found'}", url=url, status=404,
                           hint="the id or hash is unknown, unpublished or removed")
        raise_for_status(resp, service=SERVICE)

    # ---------------------------------------------------------------- models
    def search_models(self, q: SearchQuery, *, max_pages: int = 1) -> Iterator[Model]:
        """``GET /api/v1/models``; follows ``nextCursor`` for up to ``max_pages`` pages.

        A generator: pages are fetched as the caller iterates, so stopping early saves requests. Cursor
        pagination is used because Civitai refuses deep page numbers (the "too many pages" 429).
        """
        params: list[tuple[str, str]] = [("limit", str(q.limit))]
        if q.query:
            params.append(("query", q.query))
        params += [("types", t) for t in q.types]
        params += [("baseModels", b) for b in q.base_models]
        for key, val in (("sort", q.sort), ("username", q.username)):
            if val:
                params.append((key, val))
        if q.nsfw is not None:
            params.append(("nsfw", "true" if q.nsfw else "false"))
        cursor: str | None = None
        for _ in range(max_pages):
            page_params = [*params, ("cursor", cursor)] if cursor else params
            page = ModelPage.model_validate(self._get("/api/v1/models", page_params))
            yield from page.items
            nxt = page.metadata.next_cursor
            if nxt in (None, ""):
                return
            cursor = str(nxt)

    def get_model(self, model_id: int) -> Model:
        """``GET /api/v1/models/{id}``; archived or taken-down models raise :class:`NotFound`."""
        model = Model.model_validate(self._get(f"/api/v1/models/{int(model_id)}"))
        if model.mode in ("Archived", "TakenDown"):
            raise NotFound(
                f"Civitai model {model_id} ({model.name}) is {model.mode.lower()}: its files cannot be downloaded",
                url=f"{self.base_url}/models/{model_id}", status=200,
                hint="look for a re-upload or another source",
            )
        return model

    def get_version(self, version_id: int) -> ModelVersion:
        """``GET /api/v1/model-versions/{id}``; a version of an archived or taken-down model raises
        :class:`NotFound`, like :meth:`get_model`.
        """
        return self._check_version(ModelVersion.model_validate(self._get(f"/api/v1/model-versions/{int(version_id)}")))

    def _check_version(self, v: ModelVersion) -> ModelVersion:
        """``NotFound`` for a version whose parent model is archived or taken down: its files are gone."""
        if v.model is not None and v.model.mode in ("Archived", "TakenDown"):
            raise NotFound(f"Civitai model version {v.id} belongs to a model that is {v.model.mode.lower()}",
                           url=f"{self.base_url}/model-versions/{v.id}", status=200,
                           hint="look for a re-upload or another source")
        return v

    def by_hash(self, value: str) -> tuple[ModelVersion, ModelFile]:
        """``GET /api/v1/model-versions/by-hash/{hash}`` and the file it matched.

        Short hashes (AutoV2 etc.) collide; an AutoV2 match is confirmed against the file's SHA256,
        other short kinds only if exactly one file carries that hash.
        """
        h = normalize_hash(value)
        if not guess_kinds(h):
            raise InputError(f"{value!r} is not a hash Civitai knows (AutoV1/V2/V3, CRC32, SHA256, BLAKE3)")
        version = self._check_version(ModelVersion.model_validate(self._get(f"/api/v1/model-versions/by-hash/{h}")))
        file = match_file_by_hash(version, h)
        if file is None:
            raise NotFound(f"Civitai matched hash {h} to version {version.id} but none of its files carries it",
                           status=200, hint="the short hash probably collided; use the SHA256")
        return version, file

    def by_hashes(self, sha256s: list[str]) -> list[ModelVersion]:
        """Bulk ``POST /api/v1/model-versions/by-hash`` (full SHA256 only, 100 per call); unmatched are
        dropped.

        Raises ``InputError`` if any value is not a 64-hex SHA256. The POST is retried like a GET because the
        lookup changes nothing on the server. The result does not say which hash matched which version:
        match files with :func:`match_file_by_hash`.
        """
        clean = [normalize_hash(h) for h in sha256s]
        bad = [h for h in clean if len(h) != 64]
        if bad:
            raise InputError("bulk hash lookup takes full SHA256 hashes only", hint=f"not SHA256: {bad[0]}")
        out: list[ModelVersion] = []
        for i in range(0, len(clean), 100):
            resp = send_with_retry(self._http, "POST", "/api/v1/model-versions/by-hash", json=clean[i:i + 100],
                                   policy=self._policy, gate=self._gate, idempotent=True,
                                   should_retry=lambda r: not _is_pagination_429(r))
            out += [ModelVersion.model_validate(v) for v in self._json(resp) or []]
        return out

    # ---------------------------------------------------------------- images
    def images(
        self,
        *,
        image_id: int | None = None,
        post_id: int | None = None,
        model_version_id: int | None = None,
        username: str | None = None,
        limit: int = 20,
        max_pages: int = 1,
    ) -> Iterator[Image]:
        """``GET /api/v1/images`` filtered by image, post, model version or user; cursor-paginated.

        A generator, like :meth:`search_models`; ``limit`` is items per page.
        """
        params: dict[str, Any] = {"limit": limit}
        for key, val in (("imageId", image_id), ("postId", post_id), ("modelVersionId", model_version_id),
                         ("username", username)):
            if val is not None:
                params[key] = val
        cursor: str | None = None
        for _ in range(max_pages):
            page = ImagePage.model_validate(self._get("/api/v1/images", {**params, **({"cursor": cursor} if cursor else {})}))
            yield from page.items
            if page.metadata.next_cursor in (None, ""):
                return
            cursor = str(page.metadata.next_cursor)

    # ---------------------------------------------------------------- downloads
    def download_url(
        self,
        version_id: int,
        *,
        type: str | None = None,
        format: str | None = None,
        size: str | None = None,
        fp: str | None = None,
        file_id: int | None = None,
    ) -> str:
        """The public download URL (no token in it: the downloader adds the header).

        The keyword filters pick one file of a version (``type`` "Model"/"VAE"…, ``format`` "SafeTensor",
        ``size`` "pruned"/"full", ``fp`` "fp16"/"fp32", or an exact ``file_id``); with none Civitai serves the
        primary file.
        """
        params = {k: v for k, v in (("type", type), ("format", format), ("size", size), ("fp", fp),
                                    ("fileId", file_id)) if v is not None}
        base = f"{self.base_url}/api/download/models/{int(version_id)}"
        return f"{base}?{urlencode(params)}" if params else base

    def probe_download(self, url: str) -> DownloadProbe:
        """Ask a download URL for its redirect without following it, so auth failures become typed errors.

        ``Content-Type: application/json`` makes Civitai answer 401/403 JSON instead of redirecting to its
        login page; an HTML answer anyway is reported as needing a token. Raises ``AuthRequired``,
        ``EarlyAccess``, ``NotFound`` or the shared HTTP errors. Only an error answer's body is read (for
        Civitai's message); a file is never downloaded.
        """
        resp = send_with_retry(self._http, "GET", url, headers={"Content-Type": "application/json"},
                               policy=self._policy, gate=self._gate, follow_redirects=False)
        try:
            if resp.is_redirect:
                loc = resp.headers.get("Location", "")
                target = httpx.URL(url).join(loc) if loc else None
                if target is not None and _is_civitai_host(target.host) and "/login" in target.path:
                    raise AuthRequired("Civitai wants a login for this download", url=_clean(url), status=resp.status_code,
                                       hint="set CIVITAI_API_TOKEN (create one at civitai.com/user/account)")
                return DownloadProbe(url=_clean(url), signed_url=str(target) if target else None, status=resp.status_code)
            self._raise(resp)
            if is_html(resp):
                raise AuthRequired("Civitai answered the download with its login page", url=_clean(url),
                                   status=resp.status_code,
                                   hint="set CIVITAI_API_TOKEN (create one at civitai.com/user/account)")
            return DownloadProbe(url=_clean(url), signed_url=None, status=resp.status_code)
        finally:
            resp.close()


def match_file_by_hash(version: ModelVersion, value: str) -> ModelFile | None:
    """The file of ``version`` whose hashes contain ``value``; AutoV2 confirmed by the SHA256 prefix.

    A full-length hash returns the first file carrying it. A short one must be unambiguous: an AutoV2
    match counts only when exactly one file's SHA256 starts with it, and other short kinds (AutoV1, AutoV3,
    CRC32) only when exactly one file carries them. None when nothing (or more than one) matches.
    """
    h = normalize_hash(value)
    hits = [f for f in version.files if any(normalize_hash(x) == h for x in f.hashes.values())]
    if not is_short(h):
        return hits[0] if hits else None
    if HashKind.AUTOV2 in guess_kinds(h):
        confirmed = [f for f in hits if confirms(h, f.sha256)]
        return confirmed[0] if len(confirmed) == 1 else None
    return hits[0] if len(hits) == 1 else None


def _is_pagination_429(resp: httpx.Response) -> bool:
    """The 429 Civitai sends for page numbers too deep to serve: no wait fixes it, so it is not retried."""
    if resp.status_code != 429:
        return False
    try:
        return TOO_MANY_PAGES in resp.text.lower()
    except Exception:
        return False


def _error_body(resp: httpx.Response) -> dict[str, Any]:
    """The error JSON object of a response, or ``{}`` when the body is not a JSON object."""
    try:
        data = resp.json()
    except ValueError:
        return {}
    if isinstance(data, dict):
        return data
    return {}


_TOKEN_Q = re.compile(r"([?&])token=[^&]*")


def _clean(url: httpx.URL | str) -> str:
    """A URL safe to show: the ``token`` query parameter removed."""
    return _TOKEN_Q.sub(r"\1", str(url)).replace("?&", "?").rstrip("?&")
