"""Read a running ComfyUI: ``/object_info``, ``/models``, ``/models/{folder}``, ``/system_stats``.

GETs only, through ``tools/http.py::build_client`` with plain http allowed (ComfyUI usually listens
on loopback without TLS) and redirects not followed. Failures are retried with a doubling delay from
0.5 s; a missing ``/system_stats`` (old servers) or one folder listing that fails is tolerated, but
``/object_info`` and ``/models`` must answer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from comfyfixer.tools.errors import TransportError, UpstreamError
from comfyfixer.tools.model_folders import UNSCANNED_KEYS

if TYPE_CHECKING:  # httpx is imported when a live ComfyUI is asked, not by every check of a folder
    import httpx

log = logging.getLogger(__name__)


@dataclass
class LiveSnapshot:
    """What a live server told us: its normalised ``base_url``, the ``/object_info`` mapping, file names per
    folder key from ``/models/{folder}`` (``custom_nodes`` and ``datasets`` skipped) and ``/system_stats`` (``{}`` if absent).
    """

    base_url: str
    object_info: dict[str, dict[str, Any]]
    model_listings: dict[str, list[str]] = field(default_factory=dict)
    system_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def comfyui_version(self) -> str | None:
        """``system.comfyui_version`` from ``/system_stats``, or None (older servers do not report it)."""
        system = self.system_stats.get("system") if isinstance(self.system_stats, dict) else None
        v = system.get("comfyui_version") if isinstance(system, dict) else None
        return str(v) if v else None


def _get_json(client: httpx.Client, url: str, retries: int) -> Any:
    """GET ``url`` and return its JSON, retrying connection errors and 5xx ``retries`` times with a doubling
    delay from 0.5 s; raises ``TransportError`` (no answer) or ``UpstreamError`` (non-200, not JSON).
    """
    import httpx

    delay = 0.5
    for attempt in range(retries + 1):
        try:
            r = client.get(url)
        except httpx.HTTPError as exc:
            if attempt == retries:
                raise TransportError(
                    f"ComfyUI at {url} did not answer: {type(exc).__name__}",
                    url=url,
                    hint="start ComfyUI or leave out --comfyui-url to read the folder instead",
                ) from None
            time.sleep(delay)
            delay *= 2
            continue
        if r.status_code >= 500 and attempt < retries:
            time.sleep(delay)
            delay *= 2
            continue
        if r.status_code != 200:
            raise UpstreamError(f"ComfyUI answered {r.status_code} for {url}", url=url, status=r.status_code)
        try:
            return r.json()
        except ValueError:
            raise UpstreamError(
                f"ComfyUI at {url} did not return JSON", url=url, body_excerpt=r.text[:200],
                hint="is this URL really a ComfyUI server?",
            ) from None
    raise AssertionError("unreachable")


def fetch_live(
    base_url: str,
    *,
    timeout: float = 15.0,
    retries: int = 1,
    transport: httpx.BaseTransport | None = None,
) -> LiveSnapshot:
    """Ask a running ComfyUI for its node classes and model listings (GETs only; retried on failure).

    ``retries`` counts extra attempts per URL, on connection errors and 5xx answers. ``transport`` lets
    tests swap in an ``httpx.MockTransport``. Raises ``TransportError`` when the server does not answer
    and ``UpstreamError`` for a non-200 answer or a body that is not JSON (probably not a ComfyUI).
    """
    from comfyfixer.tools.http import build_client

    base = base_url.rstrip("/")
    with build_client(timeout=timeout, transport=transport, follow_redirects=False, allow_http=True) as client:
        object_info = _get_json(client, f"{base}/object_info", retries)
        if not isinstance(object_info, dict):
            raise UpstreamError(f"{base}/object_info is not a mapping", url=f"{base}/object_info")
        try:
            stats = _get_json(client, f"{base}/system_stats", retries)
        except UpstreamError:
            # /system_stats is newer than /object_info: an old server without it is still usable.
            stats = {}
        keys = _get_json(client, f"{base}/models", retries)
        listings: dict[str, list[str]] = {}
        for key in keys if isinstance(keys, list) else []:
            # A folder key, but it lists code or training data, not models.
            if key in UNSCANNED_KEYS:
                continue
            try:
                names = _get_json(client, f"{base}/models/{key}", retries)
            except UpstreamError as exc:
                log.info("skipping folder %s: %s", key, exc)
                continue
            if isinstance(names, list):
                listings[str(key)] = [str(n) for n in names]
    return LiveSnapshot(base_url=base, object_info=object_info, model_listings=listings, system_stats=stats)
