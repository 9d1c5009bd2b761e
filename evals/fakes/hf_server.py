"""A loopback fake of the Hugging Face Hub API with the Hub's search and listing semantics.

Serves an in-memory index of repos and files:

* ``GET /api/models?search=&author=&limit=&sort=downloads&direction=-1`` — case-insensitive
  substring match on the repo id (as the Hub does), most downloaded first, ``Link: rel="next"``
  pagination; private repos are never listed; gated repos carry ``"gated": "manual"``;
* ``GET /api/models/{repo}[?blobs=true]`` — ``siblings`` with ``lfs.sha256`` (only with blobs);
* ``GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=true`` — entries with ``lfs.oid``,
  paginated by ``Link`` (page size configurable);
* ``HEAD|GET /{repo}/resolve/{rev}/{path}`` — 302 to a CDN path with ``X-Linked-Etag`` (the sha256),
  ``X-Linked-Size`` and ``X-Repo-Commit``; the CDN answers with a *different* ``ETag``;
* errors as the Hub sends them: ``X-Error-Code: RepoNotFound`` (401 without a token for private
  repos, 404 when missing), ``GatedRepo`` (401 without a token), ``EntryNotFound`` (404).

Every request is counted per kind so benchmarks and evals can report traffic.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote, unquote, urlsplit

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["FakeHfFile", "FakeHfRepo", "HfFakeServer"]


@dataclass
class FakeHfFile:
    path: str
    size: int
    sha256: str | None = None  # None: a small non-LFS file (git blob only)

    @property
    def blob_id(self) -> str:
        return hashlib.sha1(f"blob:{self.path}:{self.sha256}".encode()).hexdigest()


@dataclass
class FakeHfRepo:
    id: str
    files: list[FakeHfFile] = field(default_factory=list)
    downloads: int = 0
    likes: int = 0
    gated: bool = False
    private: bool = False
    license: str | None = None

    @property
    def sha(self) -> str:
        return hashlib.sha1(f"commit:{self.id}".encode()).hexdigest()


class HfFakeServer(LoopbackServer):
    """Start with ``with HfFakeServer(repos) as srv:``; ``srv.url`` is the endpoint (``HF_ENDPOINT``)."""

    def __init__(self, repos: list[FakeHfRepo], *, token: str | None = None, tree_page_size: int = 200) -> None:
        self.repos = {r.id.lower(): r for r in repos}
        self.token = token
        self.tree_page_size = tree_page_size
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        super().__init__()

    def count(self, kind: str) -> None:
        with self._lock:
            self.requests[kind] += 1

    # ------------------------------------------------------------------ handler
    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _authed(self) -> bool:
                auth = self.headers.get("Authorization", "")
                return bool(fake.token) and auth == f"Bearer {fake.token}"

            def _send(self, status: int, body: object = None, headers: dict[str, str] | None = None,
                      head: bool = False) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                del head  # a HEAD request gets the headers only (send_body knows the method)
                self.send_body(status, raw, "application/json; charset=utf-8", (headers or {}).items())

            def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
                self._send(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}, head)

            def _repo(self, repo_id: str, head: bool = False) -> FakeHfRepo | None:
                repo = fake.repos.get(repo_id.lower())
                if repo is None:
                    self._error(404 if self._authed() else 401, "RepoNotFound", "Repository not found", head)
                    return None
                if repo.private and not self._authed():
                    self._error(401, "RepoNotFound", "Repository not found", head)
                    return None
                return repo

            def do_HEAD(self) -> None:
                self._dispatch(head=True)

            def do_GET(self) -> None:
                self._dispatch(head=False)

            def _dispatch(self, head: bool) -> None:
                parts = urlsplit(self.path)
                q = parse_qs(parts.query)
                segs = [unquote(s) for s in parts.path.split("/") if s]
                if segs[:2] == ["api", "models"] and len(segs) == 2:
                    fake.count("search")
                    return self._search(q, parts.query)
                if segs[:2] == ["api", "models"] and len(segs) >= 4:
                    repo_id = f"{segs[2]}/{segs[3]}"
                    if len(segs) >= 6 and segs[4] == "tree":
                        fake.count("tree")
                        return self._tree(repo_id, segs[5], "/".join(segs[6:]), q)
                    if len(segs) == 4 or (len(segs) == 6 and segs[4] == "revision"):
                        fake.count("info")
                        return self._info(repo_id, "blobs" in q and q["blobs"][0] == "true")
                if len(segs) >= 5 and segs[2] == "resolve":
                    fake.count("resolve")
                    return self._resolve(f"{segs[0]}/{segs[1]}", "/".join(segs[4:]), head)
                if segs[:1] == ["cdn"] and len(segs) >= 2:
                    fake.count("cdn")
                    # The CDN's ETag is a content hash of another kind, NOT the sha256.
                    xet = hashlib.sha256(("xet:" + segs[1]).encode()).hexdigest()
                    return self._send(200, None, {"ETag": f'"{xet}"', "Content-Type": "application/octet-stream"}, head)
                self._send(404, {"error": "Not Found"}, head=head)

            def _search(self, q: dict[str, list[str]], raw_query: str) -> None:
                search = (q.get("search") or [""])[0].lower()
                author = (q.get("author") or [""])[0].lower()
                limit = min(int((q.get("limit") or ["1000"])[0]), 1000)
                skip = int((q.get("cursor") or ["0"])[0] or 0)
                hits = [r for r in fake.repos.values() if not r.private and search in r.id.lower()
                        and (not author or r.id.split("/")[0].lower() == author)]
                hits.sort(key=lambda r: (-r.downloads, r.id))
                page = hits[skip: skip + limit]
                headers = {}
                if skip + limit < len(hits):
                    rest = "&".join(p for p in raw_query.split("&") if not p.startswith("cursor="))
                    headers["Link"] = f'<{fake.url}/api/models?{rest}&cursor={skip + limit}>; rel="next"'
                body = [{
                    "_id": hashlib.md5(r.id.encode()).hexdigest()[:24], "id": r.id, "modelId": r.id,
                    "likes": r.likes, "downloads": r.downloads, "private": r.private,
                    "gated": "manual" if r.gated else False,
                    "tags": [f"license:{r.license}"] if r.license else [],
                } for r in page]
                self._send(200, body, headers)

            def _info(self, repo_id: str, blobs: bool) -> None:
                repo = self._repo(repo_id)
                if repo is None:
                    return
                siblings = []
                for f in repo.files:
                    s: dict[str, object] = {"rfilename": f.path}
                    if blobs:
                        s.update({"size": f.size, "blobId": f.blob_id})
                        if f.sha256:
                            s["lfs"] = {"size": f.size, "sha256": f.sha256, "pointerSize": 135}
                    siblings.append(s)
                self._send(200, {
                    "_id": hashlib.md5(repo.id.encode()).hexdigest()[:24], "id": repo.id, "modelId": repo.id,
                    "sha": repo.sha, "private": repo.private, "gated": "manual" if repo.gated else False,
                    "downloads": repo.downloads, "likes": repo.likes,
                    "tags": [f"license:{repo.license}"] if repo.license else [],
                    "cardData": {"license": repo.license} if repo.license else {},
                    "siblings": siblings,
                })

            def _tree(self, repo_id: str, rev: str, path: str, q: dict[str, list[str]]) -> None:
                repo = self._repo(repo_id)
                if repo is None:
                    return
                if rev != "main":
                    return self._error(404, "RevisionNotFound", "Invalid rev id")
                recursive = (q.get("recursive") or ["false"])[0] == "true"
                prefix = path.strip("/") + "/" if path.strip("/") else ""
                entries: list[dict[str, object]] = []
                dirs: set[str] = set()
                for f in repo.files:
                    if not f.path.startswith(prefix):
                        continue
                    rest = f.path[len(prefix):]
                    parts = rest.split("/")
                    for i in range(1, len(parts)):
                        d = prefix + "/".join(parts[:i])
                        if (recursive or i == 1) and d not in dirs:
                            dirs.add(d)
                            entries.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(),
                                            "size": 0, "path": d})
                    if recursive or len(parts) == 1:
                        e: dict[str, object] = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
                        if f.sha256:
                            e["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 135}
                        entries.append(e)
                skip = int((q.get("cursor") or ["0"])[0] or 0)
                n = fake.tree_page_size
                headers = {}
                if skip + n < len(entries):
                    base = f"{fake.url}/api/models/{repo.id}/tree/{rev}" + (f"/{quote(path)}" if path else "")
                    headers["Link"] = f'<{base}?recursive={str(recursive).lower()}&cursor={skip + n}>; rel="next"'
                self._send(200, entries[skip: skip + n], headers)

            def _resolve(self, repo_id: str, path: str, head: bool) -> None:
                repo = self._repo(repo_id, head)
                if repo is None:
                    return
                if repo.gated and not self._authed():
                    return self._error(401, "GatedRepo", f"Access to model {repo.id} is restricted.", head)
                f = next((x for x in repo.files if x.path == path), None)
                if f is None:
                    return self._error(404, "EntryNotFound", "Entry not found", head)
                headers = {"X-Repo-Commit": repo.sha, "X-Linked-Size": str(f.size)}
                if f.sha256:
                    headers["X-Linked-Etag"] = f'"{f.sha256}"'
                    headers["ETag"] = f'"{f.blob_id}"'
                    headers["Location"] = f"{fake.url}/cdn/{f.sha256}?Expires=9999999999&Signature=fake"
                    return self._send(302, None, headers, head)
                headers["ETag"] = f'"{f.blob_id}"'
                self._send(200, None, headers, head)

        return Handler
