"""Fixtures for the assistant's tests: test-only tools and a scripted model server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import ToolBox, make_settings

from comfyfixer.evals.fakes.chat_server import Script, ScriptedChatServer
from comfyfixer.tools.context import ToolContext


@pytest.fixture
def toolbox() -> ToolBox:
    return ToolBox()


@pytest.fixture
def tool_ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state")


@pytest.fixture
def agent_run(toolbox: ToolBox, tool_ctx: ToolContext) -> Iterator[Callable[..., Any]]:
    """``agent_run(script, question, native=True, **settings)`` → (answer, server, orchestrator)."""
    from comfyfixer.agent.orchestrator import Orchestrator

    servers: list[ScriptedChatServer] = []

    def run(script: Script, question: str = "hello", *, native: bool = True, server_kw: dict[str, Any] | None = None,
            run_kw: dict[str, Any] | None = None, **settings_kw: Any) -> tuple[Any, ScriptedChatServer, Any]:
        srv = ScriptedChatServer(script, **(server_kw or {})).start()
        servers.append(srv)
        settings = make_settings(srv.base_url, llm_native_tools=native, **settings_kw)
        orch = Orchestrator(settings, registry=toolbox.registry(), ctx=tool_ctx)
        return orch.run(question, **(run_kw or {})), srv, orch

    yield run
    for srv in servers:
        srv.stop()
