"""How a pack's plan-time findings become plan entries and the lines the user approves (no I/O)."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.agent.plan import (
    InstallPackAction,
    NodeTypeNeed,
    PackCheck,
    PackRef,
    Plan,
    PlanInputs,
    PlanPolicy,
    build_plan,
    confirm_by_name_only,
    summary_lines,
)
from comfyfixer.tools.packs.requirements import PackageChange

POLICY = PlanPolicy(max_download_bytes=10, max_total_bytes=10)
URL = "https://github.com/someone/ComfyUI-Thing"


def _plan(check: PackCheck, *, hint_only: bool = False, comfy: Path = Path("/tmp/ComfyUI")) -> tuple[list[str], Plan]:
    pack = PackRef(id="thing", reference=URL, commit="a" * 40, hint_only=hint_only, check=check)
    plan = build_plan(PlanInputs(comfyui_dir=comfy, node_types=[
        NodeTypeNeed(class_type="ThingNode", status="RESOLVED", packs=[pack]),
        NodeTypeNeed(class_type="OtherThingNode", status="RESOLVED", packs=[pack])]), POLICY)
    return summary_lines(plan), plan


def test_changes_are_shown_by_kind_and_a_gpu_change_needs_the_item_named() -> None:
    check = PackCheck(version_source="recorded_commit", recorded_version="a" * 40, vetting="refused",
                      changes=[PackageChange(name="foo", before="2.0", after="1.0", change="downgrade"),
                               PackageChange(name="bar", after="1.0", change="add"),
                               PackageChange(name="torch", before="2.4.0+cu121", after="2.4.0", change="reinstall",
                                             guarded=True, why_guarded="torch is part of ComfyUI's GPU stack")],
                      guarded=["torch"], reasons=["would change torch 2.4.0+cu121 -> 2.4.0: torch is part of "
                                                  "ComfyUI's GPU stack", "would downgrade foo 2.0 -> 1.0"],
                      resolved=["foo==1.0", "bar==1.0", "torch==2.4.0"], python="/venv/bin/python",
                      python_sha256="b" * 64, index_url="https://pypi.org/simple")
    lines, plan = _plan(check)
    text = "\n".join(lines)
    assert "owner: github.com/someone" in text and f"repository: {URL}" in text
    assert "version: the commit the workflow records" in text
    assert "added: bar 1.0" in text and "DOWNGRADED: foo 2.0 -> 1.0" in text
    assert "GPU stack / numpy major: torch 2.4.0+cu121 -> 2.4.0" in text
    [action] = plan.actions
    assert isinstance(action, InstallPackAction) and action.class_types == ["ThingNode", "OtherThingNode"]
    assert any("REFUSED by default" in c and "--confirm pack:thing" in c for c in action.confirm)
    assert "would downgrade foo 2.0 -> 1.0" in action.confirm
    assert confirm_by_name_only(action)  # --confirm-all does not accept it


def test_a_hard_refusal_is_unresolved_without_a_candidate_to_choose() -> None:
    check = PackCheck(vetting="refused", refusal="its requirements conflict with other in this plan: x<2 vs x>=2",
                      accept_hint="drop one of the conflicting packs")
    lines, plan = _plan(check)
    assert plan.actions == []
    assert {u.verdict for u in plan.unresolved} == {"REFUSED"}
    assert all(u.candidates == [] for u in plan.unresolved)
    assert any("REFUSED pack 'thing'" in ln and "drop one of the conflicting packs" in ln for ln in lines)


def test_unchecked_requirements_and_a_workflow_only_repository_need_confirmation() -> None:
    _, plan = _plan(PackCheck(not_checked="comfyui_python is not set"), hint_only=True)
    [action] = plan.actions
    assert any("NOT checked (comfyui_python is not set)" in c for c in action.confirm)
    assert any("comes only from the workflow's aux_id" in c for c in action.confirm)
    assert not confirm_by_name_only(action)


def test_a_yes_at_the_terminal_does_not_accept_a_gpu_stack_change(tmp_path: Path) -> None:
    import os

    from terminal import run_in_terminal

    from comfyfixer.agent.plan import save_plan

    check = PackCheck(vetting="refused", guarded=["torch"], reasons=["would change torch 2.0.0 -> 1.0.0+cpu: GPU stack"])
    (tmp_path / "ComfyUI").mkdir()
    _, plan = _plan(check, comfy=tmp_path / "ComfyUI")
    plan_file = save_plan(plan, tmp_path / "state")
    # stdin and stdout on a terminal, where `apply` may ask instead of wanting a token
    code, text = run_in_terminal(["apply", str(plan_file), "--yes", "--no-recheck"],
                                 {**os.environ, "COMFYFIXER_STATE_DIR": str(tmp_path / "state"), "TERM": "dumb",
                                  "COLUMNS": "400"})
    assert code == 2
    assert "changes ComfyUI's GPU stack (pack:thing)" in text and "--confirm pack:thing" in text
    assert not (tmp_path / "state" / "journal.jsonl").exists()  # nothing approved, nothing applied
