"""Fixtures for the fix/approve/apply tests: a loopback file server and a miniature ComfyUI folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixkit import TOKEN, fast_retry

from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import Downloader, HostPolicy


@pytest.fixture(scope="session")
def served_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated files are reused across tests (generation is the slow part)."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture
def server(served_files: Path) -> Iterator[FileServer]:
    with FileServer(served_files, civitai_token=TOKEN) as srv:
        yield srv


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    root = tmp_path / "ComfyUI"
    for sub in ("models/checkpoints", "models/loras", "models/vae", "custom_nodes"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.fixture
def downloader(server: FileServer) -> Iterator[Downloader]:
    # tokens are bound to an origin (scheme, host, port), so to this server's api origin only
    policy = HostPolicy.build(["127.0.0.1", "localhost"], {server.api_url: TOKEN})
    with Downloader(policy, timeout=10, retry=fast_retry()) as dl:
        yield dl
