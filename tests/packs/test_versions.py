"""The version a workflow was made with: collected from its nodes, chosen, and checked out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from comfyfixer.evals.fakes.git_server import GitServer, git
from comfyfixer.tools.comfy_registry import ComfyRegistryClient
from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.packs.git import PackInstallRequest, install_pack, tag_commit
from comfyfixer.tools.packs.versions import PackIdentity, choose_version, collect_versions
from comfyfixer.tools.workflow.loader import load_workflow

POLICY = HostPolicy.build(["127.0.0.1"])


def _workflow(*nodes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"last_node_id": len(nodes), "last_link_id": 0, "links": [], "version": 0.4,
            "nodes": [{"id": i + 1, "type": cls, "pos": [0, 0], "size": [100, 100], "flags": {}, "order": i,
                       "mode": 0, "inputs": [], "outputs": [], "properties": props, "widgets_values": []}
                      for i, (cls, props) in enumerate(nodes)]}


def _nodes(wf: dict[str, Any]) -> list[Any]:
    return list(load_workflow(wf).graph.nodes.values())


def _registry(versions: dict[str, str], latest: str) -> ComfyRegistryClient:
    """The registry's install endpoint for pack 'testpack', answered in-process (no sockets)."""
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/nodes/testpack/install"
        ver = request.url.params.get("version") or latest
        if ver not in versions:
            return httpx.Response(404, json={"message": "Node version not found"})
        return httpx.Response(200, json={"version": ver, "downloadUrl": versions[ver], "deprecated": False,
                                         "status": "NodeVersionStatusActive", "dependencies": []})
    return ComfyRegistryClient(transport=httpx.MockTransport(handler), retries=0)


def test_recorded_commit_is_checked_out(git_server: GitServer, git_repos, tmp_path: Path) -> None:
    first, second = git_repos[1]["Pack"]
    wf = _workflow(
        ("TestNodeA", {"cnr_id": "testpack", "ver": first}),
        ("TestNodeB", {"cnr_id": "TestPack", "ver": first.upper()}),  # case differs: the same commit
        ("TestNodeC", {"cnr_id": "testpack", "ver": second}),          # saved from another install
        ("Other", {"cnr_id": "other-pack", "ver": "9.9.9"}),           # another pack's version: not counted
        ("NoIds", {"ver": "1.0.0"}),                                   # names no pack: not counted
    )
    recorded = collect_versions(_nodes(wf), PackIdentity(pack_id="testpack"))
    assert [(r.version, len(r.node_ids)) for r in recorded] == [(first, 2), (second, 1)]
    pick = choose_version(recorded, "testpack")
    assert pick.kind == "commit" and pick.commit == first and pick.mixed
    assert first in pick.warnings[0] and second in pick.warnings[0]
    comfy = tmp_path / "ComfyUI"
    req = PackInstallRequest(repo_url=git_server.repo_url("Pack"), commit=pick.commit,
                             target=comfy / "custom_nodes" / "Pack", staging_dir=comfy / ".staging",
                             allowed_roots=[comfy], python=None)
    res = install_pack(req, POLICY)
    assert res.commit == first
    assert git("rev-parse", "HEAD", cwd=comfy / "custom_nodes" / "Pack") == first
    assert not (comfy / "custom_nodes" / "Pack" / "later.py").exists()


def test_aux_id_names_the_pack_by_owner_repo() -> None:
    wf = _workflow(("X", {"aux_id": "Kijai/ComfyUI-KJNodes", "ver": "a" * 40}))
    recorded = collect_versions(_nodes(wf), PackIdentity(pack_id="comfyui-kjnodes",
                                                         repo_url="https://github.com/kijai/ComfyUI-KJNodes.git"))
    assert [r.version for r in recorded] == ["a" * 40]


def test_registry_version_uses_its_record_and_git_tag(git_server: GitServer, git_repos) -> None:
    first = git_repos[1]["Pack"][0]
    wf = _workflow(("TestNodeA", {"cnr_id": "testpack", "ver": "1.0.0"}))
    registry = _registry({"1.0.0": "https://cdn.comfy.org/x/testpack/1.0.0/node.zip",
                          "1.2.0": "https://cdn.comfy.org/x/testpack/1.2.0/node.zip"}, latest="1.2.0")
    with registry:
        pick = choose_version(collect_versions(_nodes(wf), PackIdentity(pack_id="testpack")), "testpack",
                              registry=registry, tag_commit=lambda v: tag_commit(git_server.repo_url("Pack"), v, POLICY))
    assert pick.kind == "registry" and pick.version == pick.registry_version == "1.0.0"
    assert pick.download_url == "https://cdn.comfy.org/x/testpack/1.0.0/node.zip"
    assert pick.commit == first and pick.installed_instead is None and not pick.mixed


def test_unknown_registry_version_says_a_newer_one_is_installed() -> None:
    wf = _workflow(("TestNodeA", {"cnr_id": "testpack", "ver": "0.9.0"}))
    with _registry({"1.2.0": "https://cdn.comfy.org/x/testpack/1.2.0/node.zip"}, latest="1.2.0") as registry:
        pick = choose_version(collect_versions(_nodes(wf), PackIdentity(pack_id="testpack")), "testpack",
                              registry=registry, tag_commit=lambda v: None)
    assert pick.registry_version == "1.2.0" and pick.commit is None
    assert pick.installed_instead is not None and "1.2.0" in pick.installed_instead and "0.9.0" in pick.installed_instead


@pytest.mark.parametrize(("props", "why"), [({}, "records no version"), ({"ver": "nightly"}, "neither a commit")])
def test_nothing_usable_recorded(props: dict[str, str], why: str) -> None:
    wf = _workflow(("TestNodeA", {"cnr_id": "testpack", **props}))
    pick = choose_version(collect_versions(_nodes(wf), PackIdentity(pack_id="testpack")), "testpack")
    assert why in pick.why and pick.installed_instead and pick.commit is None
    assert json.loads(pick.model_dump_json())["pack_id"] == "testpack"
