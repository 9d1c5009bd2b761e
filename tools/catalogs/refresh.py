"""Download fresh copies of ComfyUI-Manager's catalogs into our cache folder (``comfyfixer catalogs
refresh``).

Files are written as new files then atomically moved into place, and only if they parse as JSON of the
expected shape, so a failed or partial download never replaces a good catalog. Each file is checked
and written on its own, so a failure part-way leaves earlier files refreshed and later ones as they were.
The default source is the Manager's ``main`` branch on GitHub; no token is sent.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
from pydantic import BaseModel

from comfyfixer.tools.catalogs.manager import CATALOG_FILES
from comfyfixer.tools.errors import UpstreamError
from comfyfixer.tools.http import RetryPolicy, build_client, raise_for_status, send_with_retry
from comfyfixer.tools.paths import atomic_write

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/ltdrdata/ComfyUI-Manager/main/"
_EXPECTED_KEY = {"custom-node-list.json": "custom_nodes", "model-list.json": "models"}


class RefreshResult(BaseModel):
    """The folder written to and the size in bytes of each file written."""
    folder: str
    files: dict[str, int]  # name -> bytes written


def refresh_catalogs(
    dest: Path,
    *,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = 60.0,
    retries: int = 3,
    client: httpx.Client | None = None,
) -> RefreshResult:
    """Fetch every file in ``CATALOG_FILES`` from ``base_url`` into ``dest``.

    Redirects are followed. Raises the shared HTTP errors for a failed
    request and ``UpstreamError`` for a body that is not JSON or lacks the expected top-level list. A
    ``client`` passed in is not closed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    own = client is None
    http = client or build_client(timeout=timeout, follow_redirects=True)
    written: dict[str, int] = {}
    try:
        for name in CATALOG_FILES:
            url = base_url.rstrip("/") + "/" + name
            resp = send_with_retry(http, "GET", url, policy=RetryPolicy(retries=retries))
            raise_for_status(resp, service="GitHub")
            try:
                data = resp.json()
            except ValueError as exc:
                raise UpstreamError(f"{name} from {url} is not JSON", url=url, status=resp.status_code) from exc
            key = _EXPECTED_KEY.get(name)
            if not isinstance(data, dict) or (key and not isinstance(data.get(key), list)):
                raise UpstreamError(f"{name} from {url} does not look like ComfyUI-Manager's catalog", url=url)
            atomic_write(dest / name, json.dumps(data))
            written[name] = (dest / name).stat().st_size
    finally:
        if own:
            http.close()
    return RefreshResult(folder=str(dest), files=written)
