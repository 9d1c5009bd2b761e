"""Fixtures for the download-limit tests: a hostile loopback server (the ComfyUI folder is the suite's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from comfyfixer.evals.fakes.hostile_server import HostileServer


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as srv:
        yield srv

