"""Fixtures of the identify tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from comfyfixer.tools.context import ToolContext


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[ToolContext]:
    """An offline context that validates against the real ComfyUI 0.3.64 object_info (a module's own
    ``ctx`` fixture takes its place)."""
    tmp = tmp_path_factory.mktemp("identify")
    with ToolContext(cache_dir=tmp / "c", state_dir=tmp / "s", offline=True,
                     object_info_file=shared_data / "comfyui" / "object_info.json") as context:
        yield context
