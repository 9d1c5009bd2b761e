"""A pack known only by its registry id is never planned as a git clone of a web page."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.agent.plan import InstallPackAction, NodeTypeNeed, PackRef, PlanInputs, PlanPolicy, build_plan


def test_registry_only_pack_is_unresolved_with_how_to(tmp_path: Path) -> None:
    inputs = PlanInputs(
        comfyui_dir=str(tmp_path), workflows=[],
        node_types=[
            NodeTypeNeed(class_type="UltimateSDUpscale", status="RESOLVED",
                         packs=[PackRef(id="comfyui_ultimatesdupscale",
                                        reference="https://registry.comfy.org/nodes/comfyui_ultimatesdupscale")]),
            NodeTypeNeed(class_type="KJThing", status="RESOLVED",
                         packs=[PackRef(id="comfyui-kjnodes", reference="https://github.com/kijai/ComfyUI-KJNodes",
                                        commit="a" * 40)]),
        ],
    )
    plan = build_plan(inputs, PlanPolicy(max_download_bytes=10**12, max_total_bytes=10**12))
    installs = [a for a in plan.actions if isinstance(a, InstallPackAction)]
    assert [a.pack_id for a in installs] == ["comfyui-kjnodes"]
    (item,) = plan.unresolved
    assert item.name == "UltimateSDUpscale" and "comfy node install comfyui_ultimatesdupscale" in item.reason
