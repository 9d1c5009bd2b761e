"""Fixtures for the download-limit tests: a hostile loopback server and a miniature ComfyUI folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from comfyfixer.evals.fakes.hostile_server import HostileServer


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as srv:
        yield srv


@pytest.fixture
def comfy(tmp_path: Path) -> Path:
    root = tmp_path / "ComfyUI"
    for sub in ("models/checkpoints", "models/loras"):
        (root / sub).mkdir(parents=True)
    return root
