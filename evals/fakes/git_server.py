"""A loopback git smart-HTTP server: real ``git http-backend`` (CGI) behind :class:`LoopbackServer`.

Serves every bare repository under ``root`` at ``/<name>.git`` the way GitHub does (protocol v2,
``upload-pack`` only; pushes are refused). For the attack tests it can also:

* answer a path prefix with a redirect to another URL (``redirect("/moved", "http://localhost:…")``),
  as a hostile or renamed repository would;
* record every request (method, host header, path) so a test can prove that a refused host
  was never contacted.

Helpers build small repositories with real commits (:func:`make_repo`), so tests need nothing
but ``git`` on ``PATH``.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["GitRequest", "GitServer", "commit_files", "git", "make_repo"]

# A fixed identity and no user/system config, so the fixture repos are the same everywhere.
_GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "Fixture",
            "GIT_AUTHOR_EMAIL": "fixture@example.invalid", "GIT_COMMITTER_NAME": "Fixture",
            "GIT_COMMITTER_EMAIL": "fixture@example.invalid", "LC_ALL": "C"}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git for a fixture (raises on failure) and return its stdout, stripped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | _GIT_ENV
    proc = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def commit_files(work: Path, files: dict[str, str], message: str) -> str:
    """Write ``files`` (relative path → text) into the work tree, commit them, return the commit id."""
    for rel, text in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def make_repo(root: Path, name: str, commits: list[dict[str, str]]) -> tuple[Path, list[str]]:
    """A bare repository ``root/<name>.git`` with one commit per dict; returns it and the commit ids."""
    work = root / f"{name}.work"
    work.mkdir(parents=True)
    git("init", "-q", str(work))
    ids = [commit_files(work, files, f"commit {i + 1}") for i, files in enumerate(commits)]
    bare = root / f"{name}.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return bare, ids


@dataclass(frozen=True)
class GitRequest:
    """One request as the server saw it."""

    method: str
    host: str
    path: str
    status: int


class GitServer(LoopbackServer):
    """``git http-backend`` over loopback HTTP for the bare repositories under ``root``."""

    thread_name = "fake-git"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = Path(root)
        self.requests: list[GitRequest] = []
        self.redirects: dict[str, str] = {}  # path prefix -> URL prefix it is redirected to
        self._lock = threading.Lock()
        self._backend = Path(subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                                            check=True).stdout.strip()) / "git-http-backend"

    def repo_url(self, name: str, host: str = "127.0.0.1") -> str:
        """The clone URL of ``root/<name>.git`` (``host`` may be ``localhost`` to act as another host)."""
        return f"http://{host}:{self.port}/{name}.git"

    def redirect(self, prefix: str, to: str) -> None:
        """Answer every path under ``prefix`` with a 302 to ``to`` + the rest of the path."""
        self.redirects[prefix] = to

    def _record(self, req: GitRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                ctype = next((v for k, v in headers if k.lower() == "content-type"), "application/octet-stream")
                self.send_body(status, body, ctype, [(k, v) for k, v in headers if k.lower() != "content-type"])
                server._record(GitRequest(self.command, self.headers.get("Host", ""), self.path, status))

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                body = self._body() if self.command == "POST" else b""
                for prefix, to in server.redirects.items():
                    if parts.path.startswith(prefix):
                        rest = self.path[len(prefix):]
                        self._send(302, [("Location", to + rest)], b"")
                        return
                if parts.path.endswith("/git-receive-pack") or "service=git-receive-pack" in parts.query:
                    self._send(403, [("Content-Type", "text/plain")], b"read-only\n")
                    return
                env = {
                    "PATH": os.environ.get("PATH", ""), "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                    "REQUEST_METHOD": self.command, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": self.client_address[0], "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
                proc = subprocess.run([str(server._backend)], input=body, env=env, capture_output=True,
                                      check=False, timeout=120)
                head, _, payload = proc.stdout.partition(b"\r\n\r\n")
                if not _:
                    head, _, payload = proc.stdout.partition(b"\n\n")
                status, headers = 200, []
                for line in head.decode("latin-1").splitlines():
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key.strip(), value.strip()))
                self._send(status, headers, payload)

        return Handler
