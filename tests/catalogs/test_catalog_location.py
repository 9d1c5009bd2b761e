"""`catalogs refresh` writes where every reader (check, inspect, resolve, fix, the agent tools) looks."""

from __future__ import annotations

import json
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler


class _CatalogServer(LoopbackServer):
    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__()
        self.files = files

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        files = self.files

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                body = files.get(self.path.rsplit("/", 1)[-1])
                self.send_body(200 if body is not None else 404, body or b"", "application/json")

        return Handler


def test_refreshed_catalogs_are_the_ones_used(manager_wheel: Path, shared_data: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with zipfile.ZipFile(manager_wheel) as zf:
        files = {Path(n).name: zf.read(n) for n in zf.namelist()
                 if Path(n).name in ("extension-node-map.json", "custom-node-list.json", "model-list.json")}
    with _CatalogServer(files) as server:
        assert run(["catalogs", "refresh", "--base-url", server.url + "/", "--json"]) == 0
    capsys.readouterr()
    assert run(["catalogs", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["manager"] and "cache" in shown["manager"]
    wf = shared_data / "workflows" / "corpus" / "cubiq__ComfyUI_Workflows" / "guided_composition__pose.json"
    assert run(["inspect", str(wf), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["custom_nodes"]
    assert found and found[0]["packs"][0]["reference"].lower().endswith("comfyui_controlnet_aux")
