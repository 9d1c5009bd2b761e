"""tools/context.py: the dependency object's life cycle."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.tools.context import ToolContext


def test_closing_closes_the_clients_and_nothing_built_on_them_survives(tmp_path: Path) -> None:
    ctx = ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s")
    with ctx:
        resolver = ctx.model_resolver(templates=False)
        hf = ctx.huggingface()
        assert resolver.hf is hf and ctx.model_resolver(templates=False) is resolver  # memoised
    assert hf._http.is_closed
    again = ctx.model_resolver(templates=False)
    assert again is not resolver and again.hf is not hf and not again.hf._http.is_closed
    ctx.close()


def test_a_copy_that_points_elsewhere_gets_its_own_clients(tmp_path: Path) -> None:
    ctx = ToolContext(cache_dir=tmp_path / "c", state_dir=tmp_path / "s")
    with ctx:
        online = ctx.model_resolver(templates=False)
        mirror = ctx.model_copy(update={"hf_endpoint": "https://hf-mirror.example", "offline": True})
        offline = mirror.model_resolver(templates=False)
        assert offline is not online and offline.civitai is None and online.civitai is not None
        assert mirror.huggingface().endpoint == "https://hf-mirror.example" != ctx.huggingface().endpoint
