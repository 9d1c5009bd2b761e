"""A loopback PEP 503 "simple" package index serving small wheels and sdists built in memory.

``pip --index-url http://127.0.0.1:PORT/simple`` resolves against it exactly as against PyPI's
simple pages (anchors with ``#sha256=`` fragments). :func:`build_wheel` writes a real, minimal
wheel (``METADATA``, ``WHEEL``, ``RECORD`` and one module), so fake ``torch-2.0.0`` or
``numpy-2.0.0`` install in a throw-away venv in milliseconds. :func:`build_sdist` makes a
source archive whose in-tree build backend writes a marker file the moment it is imported,
to prove that nothing ever builds it. Every request is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import tarfile
import threading
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler

__all__ = ["PackageIndex", "build_sdist", "build_wheel", "normalize"]


def normalize(name: str) -> str:
    """PEP 503 project name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(name: str, version: str, requires: tuple[str, ...] = ()) -> tuple[str, bytes]:
    """A pure-Python wheel ``name-version-py3-none-any.whl`` (file name, bytes) with ``Requires-Dist``."""
    stem = re.sub(r"[-.]+", "_", name)
    dist = f"{stem}-{version}.dist-info"
    files = {
        f"{stem}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist}/METADATA": ("Metadata-Version: 2.1\n" f"Name: {name}\n" f"Version: {version}\n"
                             + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: comfyfixer-fake\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files.items()) + f"{dist}/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist}/RECORD", record)
    return f"{stem}-{version}-py3-none-any.whl", buf.getvalue()


def build_sdist(name: str, version: str, marker: Path) -> tuple[str, bytes]:
    """A source archive whose build backend writes ``marker`` when imported (it must never be)."""
    base = f"{name}-{version}"
    files = {
        "pyproject.toml": ('[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
                           f'[project]\nname = "{name}"\nversion = "{version}"\n'),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        "backend.py": (f"open({str(marker)!r}, 'w').write('build backend ran')\n"
                       "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return f"{base}.tar.gz", buf.getvalue()


@dataclass(frozen=True)
class IndexRequest:
    """One request as the index saw it."""

    path: str
    status: int


class PackageIndex(LoopbackServer):
    """``/simple/`` (PEP 503) and ``/files/<name>`` for the distributions added."""

    thread_name = "fake-index"

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.projects: dict[str, list[str]] = {}
        self.requests: list[IndexRequest] = []
        self._lock = threading.Lock()

    @property
    def index_url(self) -> str:
        """The URL to give pip as ``--index-url``."""
        return f"{self.url}/simple"

    def add(self, project: str, filename: str, data: bytes) -> None:
        """Serve ``data`` as ``filename`` of ``project``."""
        self.files[filename] = data
        self.projects.setdefault(normalize(project), []).append(filename)

    def add_wheel(self, name: str, version: str, requires: tuple[str, ...] = ()) -> str:
        """Build and serve a wheel; returns its file name."""
        filename, data = build_wheel(name, version, requires)
        self.add(name, filename, data)
        return filename

    def add_sdist(self, name: str, version: str, marker: Path) -> str:
        """Build and serve an sdist whose backend writes ``marker``; returns its file name."""
        filename, data = build_sdist(name, version, marker)
        self.add(name, filename, data)
        return filename

    def fetched(self, prefix: str = "/files/") -> list[str]:
        """Paths requested under ``prefix`` (files actually downloaded)."""
        with self._lock:
            return [r.path for r in self.requests if r.path.startswith(prefix)]

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: bytes, ctype: str = "text/html") -> None:
                self.send_body(status, body, ctype)
                with index._lock:
                    index.requests.append(IndexRequest(self.path, status))

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                if path.rstrip("/") == "/simple":
                    links = "".join(f'<a href="/simple/{p}/">{p}</a>\n' for p in sorted(index.projects))
                    self._send(200, f"<!DOCTYPE html><html><body>\n{links}</body></html>".encode())
                    return
                m = re.fullmatch(r"/simple/([^/]+)/?", path)
                if m:
                    names = index.projects.get(normalize(m.group(1)))
                    if names is None:
                        self._send(404, b"not found")
                        return
                    links = "".join(
                        f'<a href="/files/{html.escape(n)}#sha256={hashlib.sha256(index.files[n]).hexdigest()}">'
                        f"{html.escape(n)}</a>\n" for n in names)
                    self._send(200, f"<!DOCTYPE html><html><body>\n{links}</body></html>".encode())
                    return
                if path.startswith("/files/") and path[len("/files/"):] in index.files:
                    self._send(200, index.files[path[len("/files/"):]], "application/octet-stream")
                    return
                self._send(404, b"not found")

        return Handler
