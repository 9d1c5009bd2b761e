"""Comfy registry client and its use in fix plans (packs known only by registry id)."""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded import Replayer

from comfyfixer.tools.comfy_registry import ComfyRegistryClient
from comfyfixer.tools.errors import NotFound


def test_node_gives_repository_and_latest_version(replay: Replayer) -> None:
    with replay("registry_node.yaml"), ComfyRegistryClient(retries=0) as reg:
        node = reg.node("comfyui_ultimatesdupscale")
    assert node.repository == "https://github.com/ssitu/ComfyUI_UltimateSDUpscale"
    assert node.latest_version is not None and node.latest_version.version == "1.6.0"


def test_install_version_and_not_found(replay: Replayer) -> None:
    with replay("registry_install.yaml"), ComfyRegistryClient(retries=0) as reg:
        v = reg.install_version("comfyui_ultimatesdupscale", "1.6.0")
    assert v.download_url and v.download_url.endswith("node.zip")
    with replay("registry_not_found.yaml"), ComfyRegistryClient(retries=0) as reg, pytest.raises(
            NotFound, match=r"the Comfy registry has nothing at .*/nodes/no-such-pack-zz"):
        reg.node("no-such-pack-zz")
    with ComfyRegistryClient(retries=0) as reg, pytest.raises(NotFound, match="is not a registry id"):
        reg.node("../etc")  # never sent


def test_fix_planning_takes_the_repository_from_the_registry(tmp_path: Path, replay: Replayer) -> None:
    from comfyfixer.agent.config import load_settings
    from comfyfixer.agent.plan import NodeTypeNeed, PackRef, PlanInputs
    from comfyfixer.agent.planning import pin_packs
    from comfyfixer.agent.services import build_context

    inputs = PlanInputs(comfyui_dir=str(tmp_path), workflows=[], node_types=[
        NodeTypeNeed(class_type="UltimateSDUpscale", status="RESOLVED", packs=[PackRef(
            id="comfyui_ultimatesdupscale", reference="https://registry.comfy.org/nodes/comfyui_ultimatesdupscale",
            commit="0" * 40)])])  # already pinned: only the repository is looked up
    with replay("registry_node.yaml"), build_context(load_settings(http_retries=0)) as ctx:
        pin_packs(inputs, ctx)
    assert inputs.node_types[0].packs[0].reference == "https://github.com/ssitu/ComfyUI_UltimateSDUpscale"


def test_node_resolver_confirms_a_registry_id(tmp_path: Path, replay: Replayer) -> None:
    from comfyfixer.tools.catalogs.manager import CatalogSource, ManagerCatalog
    from comfyfixer.tools.resolver import NodeQuery, NodeResolver, ResolveStatus

    catalog = ManagerCatalog(source=CatalogSource("folder", tmp_path))  # a catalog that does not know the pack
    with replay("registry_node.yaml"), ComfyRegistryClient(retries=0) as reg:
        v = NodeResolver(catalog, reg).resolve(NodeQuery(class_type="SomeNewUSDUClass_zz",
                                                         cnr_id="comfyui_ultimatesdupscale"))
    assert v.status == ResolveStatus.RESOLVED
    assert v.candidates[0].url == "https://github.com/ssitu/ComfyUI_UltimateSDUpscale"
    assert any(e.source == "registry" for e in v.evidence)
    offline = NodeResolver(catalog).resolve(NodeQuery(class_type="SomeNewUSDUClass_zz", cnr_id="comfyui_ultimatesdupscale"))
    assert offline.status == ResolveStatus.UNCERTAIN  # without the registry the id alone is not proof
