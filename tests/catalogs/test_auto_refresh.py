"""The first run knows the packs: catalogs are fetched on first use and when stale, conditionally, and
atomically as a set; offline and failures say so once and the check goes on.

The catalogs are the real files of the comfyui-manager wheel, served from a loopback mirror.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from comfyfixer.agent.cli import run
from comfyfixer.evals.fakes.catalog_server import CatalogMirror, manager_files
from comfyfixer.tools.catalogs.manager import current_cache_folder, load_manager_catalog, manager_cache_dir
from comfyfixer.tools.catalogs.refresh import ensure_catalogs, refresh_catalogs
from comfyfixer.tools.errors import ComfyFixerError

# A community workflow whose custom classes carry no pack hints: only the Manager's node map names them.
_POSE = Path("workflows/corpus/cubiq__ComfyUI_Workflows/guided_composition__pose.json")


@pytest.fixture(scope="module")
def files(manager_wheel: Path) -> dict[str, bytes]:
    return manager_files(manager_wheel)


@pytest.fixture
def mirror(files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with CatalogMirror(files) as m:
        monkeypatch.setenv("COMFYFIXER_CATALOGS_URL", m.url + "/")
        monkeypatch.setenv("COMFYFIXER_CATALOGS_MAX_AGE_HOURS", "24")
        yield m


def _cache_root() -> Path:
    from comfyfixer.agent.config import load_settings

    return manager_cache_dir(load_settings().cache_dir)


def _check(wf: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    from comfyfixer.agent.commands.check import demo_dir

    capsys.readouterr()
    assert run(["check", str(wf), "--comfyui", str(demo_dir() / "ComfyUI"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _packs(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [p["reference"].lower() for w in doc["workflows"] for n in w["missing_node_types"] for p in n["packs"]]


def test_first_check_names_packs_then_rechecks_conditionally(
        mirror: CatalogMirror, shared_data: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = shared_data / _POSE
    with caplog.at_level(logging.INFO):
        doc = _check(wf, capsys)
    assert any(p.endswith("/comfyui_controlnet_aux") for p in _packs(doc)), _packs(doc)
    assert doc["catalog_source"] and "cache" in doc["catalog_source"]
    said = [r.getMessage() for r in caplog.records if "ComfyUI-Manager catalogs" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("downloaded ComfyUI-Manager catalogs (3 files)")
    assert [(r.status, r.conditional) for r in mirror.requests] == [(200, False)] * 3

    # Fresh: the next command sends nothing.
    _check(wf, capsys)
    assert len(mirror.requests) == 3

    # Stale: conditional requests, all 304, the same version is kept and only its check time moves.
    root = _cache_root()
    before = json.loads((root / "current.json").read_text())
    monkeypatch.setenv("COMFYFIXER_CATALOGS_MAX_AGE_HOURS", "0.0000001")
    doc = _check(wf, capsys)
    assert [(r.status, r.conditional) for r in mirror.requests[3:]] == [(304, True)] * 3
    after = json.loads((root / "current.json").read_text())
    assert after["version"] == before["version"] and after["checked_ts"] > before["checked_ts"]
    assert any(p.endswith("/comfyui_controlnet_aux") for p in _packs(doc))


def _published(files: dict[str, bytes], name: str, body: bytes) -> dict[str, bytes]:
    return {**files, name: body}


# Small catalogs of the Manager's shape, for the tests about the set rather than its content.
SMALL = {
    "extension-node-map.json": json.dumps({"https://github.com/a/pack": [["NodeA"], {"title_aux": "A"}]}).encode(),
    "custom-node-list.json": json.dumps({"custom_nodes": [{"id": "a", "reference": "https://github.com/a/pack"}]}).encode(),
    "model-list.json": json.dumps({"models": []}).encode(),
}


@pytest.mark.parametrize("how", ["server dies after the 2nd file", "a file is not JSON"])
def test_interrupted_refresh_leaves_the_previous_set(tmp_path: Path, how: str) -> None:
    files = SMALL
    root = tmp_path / "catalogs"
    with CatalogMirror(files) as m:
        first = refresh_catalogs(root, base_url=m.url, retries=0)
    kept = {n: (Path(first.folder) / n).read_bytes() for n in files}
    pointer = (root / "current.json").read_bytes()
    # New upstream content for every file, so nothing can be carried over by a 304.
    newer = {n: b + b"\n" for n, b in files.items()}
    if how.startswith("server"):
        mirror = CatalogMirror(newer, die_after=2)
    else:
        mirror = CatalogMirror(_published(newer, "model-list.json", b"<html>rate limited</html>"))
    with mirror:
        with pytest.raises(ComfyFixerError):
            refresh_catalogs(root, base_url=mirror.url, retries=0)
        assert [r.status for r in mirror.requests][:2] == [200, 200]
    assert (root / "current.json").read_bytes() == pointer
    assert {n: (current_cache_folder(root) / n).read_bytes() for n in files} == kept
    assert sorted(p.name for p in root.glob("v-*")) == [first.version]  # the half-filled version is gone
    assert load_manager_catalog(cache_dir=root).source.location == Path(first.folder)


def test_failed_refresh_says_so_once_and_goes_on(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = SMALL
    root = tmp_path / "catalogs"
    with CatalogMirror(files) as m:
        refresh_catalogs(root, base_url=m.url, retries=0)
        url = m.url
    # The mirror is gone and the copy is stale: one warning, the previous set stays in use.
    with caplog.at_level(logging.INFO):
        got = ensure_catalogs(root, base_url=url, max_age_hours=1e-9, retries=0, timeout=2)
        again = ensure_catalogs(root, base_url=url, max_age_hours=1e-9, retries=0, timeout=2)
    assert got.action == "failed" and got.have_catalogs and "using the copy last checked" in got.message
    assert again.action == "failed" and again.message == ""  # not retried (nor said) for a while
    assert len([r for r in caplog.records if "ComfyUI-Manager" in r.getMessage()]) == 1


def test_offline_says_so_and_names_what_it_could_not(
        mirror: CatalogMirror, shared_data: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_OFFLINE", "1")
    with caplog.at_level(logging.INFO):
        doc = _check(shared_data / _POSE, capsys)
    assert mirror.requests == []
    said = [r.getMessage() for r in caplog.records if "catalogs" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("offline: ComfyUI-Manager catalogs were never downloaded")
    assert doc["catalog_source"] is None
    assert any("could not name" in n for n in doc["notes"]), doc["notes"]


def test_tests_never_refresh_by_default(tmp_path: Path) -> None:
    """The hermetic environment turns automatic refreshing off: nothing tries GitHub."""
    from comfyfixer.agent.services import context

    _, ctx = context()
    assert ctx.catalogs_max_age_hours == 0 and ctx.catalog() is None
    assert not manager_cache_dir(ctx.cache_dir).exists()
