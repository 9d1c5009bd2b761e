"""The suite's one vcrpy configuration (tests/recorded.py): unplayed interactions fail, secrets never reach a file."""

from __future__ import annotations

import importlib.util
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from recorded import SHARED_CASSETTES, TESTS, Replayer, cassette_files, locate, recorder
from vcr.errors import CannotOverwriteExistingCassetteException

from comfyfixer.evals.fakes.loopback import LoopbackServer
from comfyfixer.tools.http import build_client

SEARCH = "https://civitai.com/api/v1/models?limit=2&query=punk&types=TextualInversion"


def test_an_unplayed_interaction_is_named() -> None:
    player = Replayer(TESTS / "resolver")
    with player("civitai_search.yaml") as cassette, build_client() as http:
        assert http.get(SEARCH).json()["metadata"]["nextCursor"] == "75363|932023|257749"
    assert cassette.play_count == 1
    with pytest.raises(AssertionError, match=r"cassettes/civitai_search\.yaml: 1 of 2 interactions never played: "
                                             r"#1 GET .*cursor=75363"):
        player.verify()


def test_partial_is_exempt_and_unknown_requests_are_refused() -> None:
    player = Replayer(TESTS / "resolver")
    with player("civitai_search.yaml", partial="asks for something else"), build_client() as http, \
            pytest.raises(CannotOverwriteExistingCassetteException):
        http.get("https://civitai.com/api/v1/models?limit=3")  # the query differs: no match, nothing recorded
    player.verify()  # exempt: nothing raised
    assert "cursor" in (TESTS / "cassettes" / "civitai_search.yaml").read_text(encoding="utf-8")  # file untouched


def test_locate_prefers_the_folder_beside_the_test_and_refuses_paths() -> None:
    assert locate("agent_lookup_then_answer.yaml", TESTS / "agent") == TESTS / "agent" / "cassettes" / \
        "agent_lookup_then_answer.yaml"
    assert locate("civitai_model.yaml", TESTS / "agent") == TESTS / "cassettes" / "civitai_model.yaml"
    with pytest.raises(FileNotFoundError, match=r"no cassette 'nope\.yaml'"):
        locate("nope.yaml", TESTS / "agent")
    with pytest.raises(ValueError, match="bare file name"):
        locate("../cassettes/civitai_model.yaml", TESTS / "agent")


class _CookieServer(LoopbackServer):
    """Answers every GET with a session cookie, as a website would after a login."""

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Set-Cookie", "session=s3cr3t-session; HttpOnly")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def test_the_recorder_keeps_no_credential(tmp_path: Path) -> None:
    out = tmp_path / "recorded.yaml"
    with _CookieServer() as server, recorder().use_cassette(str(out), serializer="yaml"), \
                build_client(token="s3cr3t-token", token_origins=[server.url],
                         headers={"X-Api-Key": "s3cr3t-key", "Cookie": "a=s3cr3t-cookie"}) as http:
        assert http.get(f"{server.url}/x?token=s3cr3t-query&limit=1").json() == {"ok": True}
    text = out.read_text(encoding="utf-8")
    assert "s3cr3t" not in text
    it = yaml.safe_load(text)["interactions"][0]
    assert {h.lower() for h in it["request"]["headers"]}.isdisjoint({"authorization", "x-api-key", "cookie"})
    assert "set-cookie" not in {h.lower() for h in it["response"]["headers"]}
    assert it["request"]["uri"].endswith("/x?limit=1")


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_built_cassette_is_what_its_builder_writes(shared_data: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand edit of a cassette (or a builder change not run) fails here: the builders are the source."""
    base = _load(SHARED_CASSETTES / "build_cassettes.py", "build_cassettes")
    monkeypatch.setitem(sys.modules, "build_cassettes", base)  # the other two builders import its helpers
    rc_dir = TESTS / "reconstruct" / "cassettes"
    out_shared, out_rc = tmp_path / "shared", tmp_path / "rc"
    out_shared.mkdir()
    out_rc.mkdir()
    base.build(shared_data / "api", out_shared)
    _load(SHARED_CASSETTES / "build_registry_cassettes.py", "build_registry_cassettes").build(out_shared)
    _load(SHARED_CASSETTES / "build_runpod_cassettes.py", "build_runpod_cassettes").build(shared_data / "api", out_shared)
    _load(rc_dir / "build_cassettes.py", "rc_build_cassettes").build(shared_data, out_rc)
    id_dir, out_id = TESTS / "identify" / "cassettes", tmp_path / "identify"
    out_id.mkdir()
    _load(id_dir / "build_cassettes.py", "identify_build_cassettes").build(shared_data, out_id)

    built = {SHARED_CASSETTES / p.name: p for p in out_shared.iterdir()} | {rc_dir / p.name: p for p in out_rc.iterdir()}
    built |= {id_dir / p.name: p for p in out_id.iterdir()}
    ms_dir, out_ms = TESTS / "modelscope" / "cassettes", tmp_path / "modelscope"
    out_ms.mkdir()
    _load(ms_dir / "build_cassettes.py", "modelscope_build_cassettes").build(out_ms)
    built |= {ms_dir / p.name: p for p in out_ms.iterdir()}
    # the assistant's cassette is recorded against a live fake (timestamps, port), not built
    committed = {c for c in cassette_files() if c.parent != TESTS / "agent" / "cassettes"}
    assert sorted(map(str, committed)) == sorted(map(str, built))
    stale = [str(c.relative_to(TESTS)) for c, fresh in built.items() if c.read_bytes() != fresh.read_bytes()]
    assert stale == [], "re-run the builder of these cassettes (or move the edit into it)"
