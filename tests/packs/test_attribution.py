"""Who decides which repository provides a class: the catalog, not the workflow's ``aux_id``/``cnr_id``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from comfyfixer.tools.catalogs.manager import ManagerCatalog, load_manager_catalog, normalize_repo_url
from comfyfixer.tools.schema.loader import bundled_core_schemas
from comfyfixer.tools.workflow.inspect import inspect_source
from comfyfixer.tools.workflow.models import CustomNodeFinding

IMPACT = "https://github.com/ltdrdata/ComfyUI-Impact-Pack"


@pytest.fixture(scope="session")
def catalog(manager_wheel: Path) -> ManagerCatalog:
    return load_manager_catalog(wheel_dirs=[manager_wheel.parent])


def _workflow(*nodes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"last_node_id": len(nodes), "last_link_id": 0, "links": [], "version": 0.4,
            "nodes": [{"id": i + 1, "type": cls, "pos": [0, 0], "size": [100, 100], "flags": {}, "order": i,
                       "mode": 0, "inputs": [], "outputs": [], "properties": props, "widgets_values": []}
                      for i, (cls, props) in enumerate(nodes)]}


def _finding(wf: dict[str, Any], catalog: ManagerCatalog, cls: str) -> CustomNodeFinding:
    result = inspect_source(wf, schemas=bundled_core_schemas(), catalog=catalog)
    return next(f for f in result.custom_nodes if f.class_type == cls)


def test_catalog_claims_facedetailer(catalog: ManagerCatalog) -> None:
    # the premise of the attack test: the real catalog has exactly one claimant, ltdrdata's pack
    assert [normalize_repo_url(p.reference) for p in catalog.claimants("FaceDetailer")] == [normalize_repo_url(IMPACT)]


def test_spoofed_aux_id_is_uncertain_with_both(catalog: ManagerCatalog) -> None:
    wf = _workflow(("FaceDetailer", {"aux_id": "evil-user/ComfyUI-Impact-Pack", "ver": "0123abcd"}))
    f = _finding(wf, catalog, "FaceDetailer")
    assert f.status == "UNCERTAIN"
    refs = [normalize_repo_url(p.reference) for p in f.packs]
    assert refs == [normalize_repo_url(IMPACT), "https://github.com/evil-user/comfyui-impact-pack"]
    assert "the workflow names evil-user/ComfyUI-Impact-Pack" in f.reason
    assert "the catalog lists ltdrdata/ComfyUI-Impact-Pack for this class" in f.reason
    assert [p.hint_only for p in f.packs] == [False, True]


def test_spoofed_cnr_id_does_not_win_either(catalog: ManagerCatalog) -> None:
    wf = _workflow(("FaceDetailer", {"cnr_id": "totally-not-malware", "ver": "1.0.0"}))
    f = _finding(wf, catalog, "FaceDetailer")
    assert f.status == "UNCERTAIN"
    assert normalize_repo_url(f.packs[0].reference) == normalize_repo_url(IMPACT)
    assert f.reason == ("the workflow names registry id 'totally-not-malware', the catalog lists "
                        "ltdrdata/ComfyUI-Impact-Pack for this class")


def test_hint_naming_the_claimant_resolves_to_the_catalog_record(catalog: ManagerCatalog) -> None:
    wf = _workflow(("FaceDetailer", {"aux_id": "LTDRDATA/comfyui-impact-pack"}))
    f = _finding(wf, catalog, "FaceDetailer")
    assert f.status == "RESOLVED"
    assert [p.reference for p in f.packs] == [catalog.claimants("FaceDetailer")[0].reference]
    assert not f.packs[0].hint_only


def test_hint_without_claimant_stays_but_is_marked(catalog: ManagerCatalog) -> None:
    cls = "ZzNoCatalogKnowsThisNode"
    assert catalog.claimants(cls) == []
    wf = _workflow((cls, {"aux_id": "someone/ComfyUI-Unlisted"}))
    f = _finding(wf, catalog, cls)
    assert f.status == "RESOLVED"
    assert f.packs[0].reference == "https://github.com/someone/ComfyUI-Unlisted"
    assert f.packs[0].hint_only
    assert "owner someone" in (f.packs[0].why or "")
    # serialised too, so the plan (built from JSON) sees the mark
    assert f.model_dump()["packs"][0]["hint_only"] is True


def test_frontend_only_class_not_steered(catalog: ManagerCatalog) -> None:
    wf = _workflow(("SetNode", {"aux_id": "evil-user/ComfyUI-KJNodes"}))
    f = _finding(wf, catalog, "SetNode")
    assert f.status == "UNCERTAIN"
    assert f.frontend_only
    assert "evil-user/ComfyUI-KJNodes" in f.reason
    assert "kijai/ComfyUI-KJNodes" in f.reason
