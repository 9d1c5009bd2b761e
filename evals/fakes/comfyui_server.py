"""A loopback ComfyUI look-alike for the read-only endpoints the readiness check uses.

Serves, from recorded responses of a real ComfyUI 0.3.64 (``shared/data/comfyui``) or from dicts given:

* ``GET /object_info`` and ``GET /object_info/{class}`` (unknown class → ``{}`` with 200, like ComfyUI),
* ``GET /models`` (folder keys) and ``GET /models/{folder}`` (sorted names; unknown folder → 404),
* ``GET /system_stats``, ``GET /embeddings``.

Every request is recorded (method, path, status) so a test can check what went over the wire.
``fail_status`` makes every answer that status, to test error handling.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["FakeComfyUI", "load_recorded"]


@dataclass
class Recorded:
    object_info: dict[str, Any]
    listings: dict[str, list[str]]
    system_stats: dict[str, Any]


def load_recorded(data_dir: Path) -> Recorded:
    """The recorded answers in ``data_dir`` (``object_info.json``, ``models.json``, ``models_<key>.json`` ...)."""
    object_info = json.loads((data_dir / "object_info.json").read_text(encoding="utf-8"))
    keys = json.loads((data_dir / "models.json").read_text(encoding="utf-8"))
    listings: dict[str, list[str]] = {}
    for key in keys:
        f = data_dir / f"models_{key}.json"
        listings[key] = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else []
    stats_file = data_dir / "system_stats.json"
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.is_file() else {}
    return Recorded(object_info=object_info, listings=listings, system_stats=stats)


class FakeComfyUI(LoopbackServer):
    """Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(
        self,
        *,
        object_info: dict[str, Any] | None = None,
        listings: dict[str, list[str]] | None = None,
        system_stats: dict[str, Any] | None = None,
        data_dir: Path | None = None,
        fail_status: int | None = None,
    ) -> None:
        if data_dir is not None:
            rec = load_recorded(data_dir)
            object_info = rec.object_info if object_info is None else object_info
            listings = rec.listings if listings is None else listings
            system_stats = rec.system_stats if system_stats is None else system_stats
        self.object_info: dict[str, Any] = object_info or {}
        self.listings: dict[str, list[str]] = listings or {}
        self.system_stats: dict[str, Any] = system_stats or {"system": {"comfyui_version": "0.3.64"}}
        self.fail_status = fail_status
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        super().__init__()

    def _answer(self, path: str) -> tuple[int, Any]:
        if self.fail_status is not None:
            return self.fail_status, {"error": "fake failure"}
        if path == "/object_info":
            return 200, self.object_info
        if path.startswith("/object_info/"):
            cls = unquote(path[len("/object_info/") :])
            return 200, ({cls: self.object_info[cls]} if cls in self.object_info else {})
        if path == "/models":
            return 200, list(self.listings)
        if path.startswith("/models/"):
            key = unquote(path[len("/models/") :])
            if key not in self.listings:
                return 404, None
            return 200, sorted(self.listings[key])
        if path == "/system_stats":
            return 200, self.system_stats
        if path == "/embeddings":
            names = self.listings.get("embeddings", [])
            return 200, [n.rsplit(".", 1)[0] for n in names]
        return 404, None

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                status, body = fake._answer(path)
                with fake._lock:
                    fake.requests.append(("GET", path, status))
                if body is None:
                    self.send_body(status, b"404: Not Found", "text/plain")
                else:
                    self.send_json(status, body)

        return Handler
