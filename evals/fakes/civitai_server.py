"""A loopback fake of Civitai's REST API v1 with its search and lookup semantics.

Models are plain dicts in the real API's shape (e.g. the samples in ``shared/data/api/civitai``).

* ``GET /api/v1/models?query=&types=&baseModels=&limit=&cursor=`` — Meilisearch-like full text:
  every query word must prefix-match a word of the name, tags or creator; when nothing matches,
  words are dropped from the end (Meilisearch's ``matchingStrategy: last``). ``query`` with ``page``
  is a 400; ``page * limit > 1000`` is the 429 "too many pages" error; cursors are opaque strings.
* ``GET /api/v1/models/{id}``, ``/api/v1/model-versions/{id}`` and ``/by-hash/{hash}`` (any hash kind,
  case-insensitive), bulk ``POST /api/v1/model-versions/by-hash`` (SHA256 only, unmatched dropped).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["CivitaiFakeServer"]

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class CivitaiFakeServer(LoopbackServer):
    """Start with ``with CivitaiFakeServer(models) as srv:``; ``srv.url`` is the base URL."""

    def __init__(self, models: list[dict[str, Any]], *, token: str | None = None) -> None:
        self.models = {int(m["id"]): m for m in models}
        self.token = token
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        super().__init__()
        self._docs = {mid: set(_words(" ".join([m.get("name", ""), " ".join(map(str, _tags(m))),
                                                 str((m.get("creator") or {}).get("username", ""))])))
                      for mid, m in self.models.items()}

    def count(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    def versions(self) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
        return {int(v["id"]): (m, v) for m in self.models.values() for v in m.get("modelVersions") or []}

    def search(self, query: str) -> list[int]:
        words = _words(query)
        while words:
            hits = [mid for mid, doc in self._docs.items()
                    if all(any(d.startswith(w) for d in doc) for w in words)]
            if hits:
                return hits
            words = words[:-1]
        return []

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: object) -> None:
                self.send_json(status, body)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = parse_qs(parts.query)
                segs = [unquote(s) for s in parts.path.split("/") if s]
                if segs[:2] != ["api", "v1"]:
                    return self._send(404, {"error": "Not Found"})
                rest = segs[2:]
                if rest == ["models"]:
                    fake.count("search")
                    return self._models(q)
                if len(rest) == 2 and rest[0] == "models":
                    fake.count("model")
                    m = fake.models.get(int(rest[1])) if rest[1].isdigit() else None
                    return self._send(200, m) if m else self._send(404, {"error": f"No model with id {rest[1]}"})
                if len(rest) == 3 and rest[:2] == ["model-versions", "by-hash"]:
                    fake.count("by-hash")
                    found = self._by_hash(rest[2])
                    return self._send(200, found) if found else self._send(404, {"error": "Model not found"})
                if len(rest) == 2 and rest[0] in ("model-versions", "modelVersions"):
                    fake.count("version")
                    mv = fake.versions().get(int(rest[1])) if rest[1].isdigit() else None
                    return self._send(200, _version_doc(*mv)) if mv else self._send(404, {"error": "Model not found"})
                self._send(404, {"error": "Not Found"})

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if parts.path.rstrip("/") == "/api/v1/model-versions/by-hash":
                    fake.count("by-hash-bulk")
                    try:
                        hashes = json.loads(body)
                    except ValueError:
                        return self._send(400, {"error": "Invalid JSON"})
                    if not isinstance(hashes, list) or len(hashes) > 100 or any(
                            not isinstance(h, str) or len(h) != 64 for h in hashes):
                        return self._send(400, {"error": "Expected up to 100 SHA256 hashes"})
                    out = [v for h in hashes if (v := self._by_hash(h))]
                    return self._send(200, out)
                self._send(405, {"error": "Method Not Allowed"})

            def _by_hash(self, h: str) -> dict[str, Any] | None:
                h = h.upper()
                for m, v in fake.versions().values():
                    for f in v.get("files") or []:
                        if any(str(x).upper() == h for x in (f.get("hashes") or {}).values()):
                            return _version_doc(m, v)
                return None

            def _models(self, q: dict[str, list[str]]) -> None:
                limit = int((q.get("limit") or ["100"])[0])
                if not 1 <= limit <= 100:
                    return self._send(400, {"error": "limit must be 1-100"})
                query = (q.get("query") or [""])[0]
                page = q.get("page")
                if page and query:
                    return self._send(400, {"error": "Cannot use page param with query search. Use cursor-based pagination."})
                if page and int(page[0]) * limit > 1000:
                    return self._send(429, {"error": "You've requested too many pages, please use cursors instead"})
                types = {t.lower() for v in q.get("types", []) for t in v.split(",")}
                bases = {b.lower() for v in q.get("baseModels", []) for b in v.split(",")}
                ids = fake.search(query) if query else list(fake.models)
                items = []
                for mid in ids:
                    m = fake.models[mid]
                    if types and str(m.get("type", "")).lower() not in types:
                        continue
                    if bases and not any(str(v.get("baseModel", "")).lower() in bases for v in m.get("modelVersions") or []):
                        continue
                    items.append(m)
                items.sort(key=lambda m: -int((m.get("stats") or {}).get("downloadCount") or 0))
                start = int((q.get("cursor") or ["0"])[0].split("|")[0] or 0)
                page_items = items[start: start + limit]
                meta: dict[str, Any] = {}
                if start + limit < len(items):
                    meta["nextCursor"] = f"{start + limit}|{len(items)}"
                self._send(200, {"items": page_items, "metadata": meta})

        return Handler


def _tags(m: dict[str, Any]) -> list[str]:
    return [t["name"] if isinstance(t, dict) else str(t) for t in m.get("tags") or []]


def _version_doc(model: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """A version as ``/model-versions/{id}`` returns it: with ``modelId`` and a slim ``model``."""
    doc = dict(version)
    doc.setdefault("modelId", model["id"])
    doc["model"] = {"name": model.get("name"), "type": model.get("type"), "nsfw": model.get("nsfw", False),
                    "poi": model.get("poi", False), **({"mode": model["mode"]} if model.get("mode") else {})}
    return doc
