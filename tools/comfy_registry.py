"""The Comfy registry (api.comfy.org): a registry id (a node's ``cnr_id``) → its repository and versions.

Workflows saved by recent frontends name packs by registry id; ComfyUI-Manager's catalogs cover
most but not all of them. The registry is public and needs no token, so none is ever sent. Used by
the node resolver and the pack installer through ``ToolContext``; the client only reads.
"""

from __future__ import annotations

import re

import httpx
from pydantic import BaseModel, ConfigDict, Field

from comfyfixer.tools.errors import NotFound, UpstreamError
from comfyfixer.tools.http import RetryPolicy, ServiceClient, build_client, raise_for_status, send_with_retry

DEFAULT_BASE_URL = "https://api.comfy.org"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RegistryVersion(BaseModel):
    """One published version of a pack: ``version`` (semver text), ``download_url`` of its archive,
    ``deprecated``, the registry's ``status``, pip ``dependencies`` and the ComfyUI version range it
    claims to support (free text, not checked here).
    """
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str
    download_url: str | None = Field(None, alias="downloadUrl")
    deprecated: bool = False
    status: str | None = None
    dependencies: list[str] = Field(default_factory=list)
    supported_comfyui_version: str | None = None


class RegistryNode(BaseModel):
    """A pack in the registry: its ``id`` (the ``cnr_id``), display ``name``, git ``repository`` URL, licence
    text, description and latest version. ``repository`` may be None for packs published without one.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str | None = None
    repository: str | None = None
    license: str | None = None
    description: str | None = None
    latest_version: RegistryVersion | None = None


class ComfyRegistryClient(ServiceClient):
    """Read-only lookups; GETs are retried with backoff on 429/5xx.

    No rate gate: lookups are few (one per unknown registry id). ``transport`` lets tests replay answers.
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, *, timeout: float = 30.0, retries: int = 3,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = build_client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        self._policy = RetryPolicy(retries=retries)


    def _get(self, path: str, **params: str) -> object:
        resp = send_with_retry(self._http, "GET", path, policy=self._policy, params=params or None)
        raise_for_status(resp, service="the Comfy registry")
        try:
            return resp.json()
        except ValueError:
            raise UpstreamError("the Comfy registry answered with something that is not JSON",
                                url=str(resp.url), status=resp.status_code) from None

    def node(self, node_id: str) -> RegistryNode:
        """The pack with this registry id (``cnr_id``).

        Raises ``NotFound`` for an id that could not be one (checked before any request, so a workflow cannot
        steer the URL path) and for an unknown pack; other HTTP failures as in ``tools/errors.py``.
        """
        if not _ID.match(node_id):
            raise NotFound(f"'{node_id}' is not a registry id")
        return RegistryNode.model_validate(self._get(f"/nodes/{node_id}"))

    def install_version(self, node_id: str, version: str | None = None) -> RegistryVersion:
        """The version to install (the latest, or ``version``), with its archive URL; raises like
        :meth:`node`.
        """
        if not _ID.match(node_id):
            raise NotFound(f"'{node_id}' is not a registry id")
        params = {"version": version} if version else {}
        return RegistryVersion.model_validate(self._get(f"/nodes/{node_id}/install", **params))
