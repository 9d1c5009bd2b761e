"""Plans (ids, choose/drop, safety of names), approval tokens and the journal."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comfyfixer.agent import approval
from comfyfixer.agent.journal import Journal, read_journal
from comfyfixer.agent.plan import (
    DownloadAction,
    InstallPackAction,
    ModelNeed,
    NodeTypeNeed,
    PackRef,
    PlanInputs,
    PlanPolicy,
    SourceCandidate,
    build_plan,
    choose,
    drop,
    load_plan,
    save_plan,
    summary_lines,
)
from comfyfixer.tools.errors import ApprovalError, InputError

POLICY = PlanPolicy(max_download_bytes=10**9, max_total_bytes=2 * 10**9, license_allowlist=[])


def inputs(tmp_path: Path, **kw: object) -> PlanInputs:
    base: dict[str, object] = {
        "comfyui_dir": tmp_path / "ComfyUI",
        "workflows": ["wf.json"],
        "models": [
            ModelNeed(filename="sub\\a.safetensors", folder="checkpoints", verdict="RESOLVED", candidates=[
                SourceCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/a.safetensors",
                                size=100, sha256="AB" * 32, license="openrail")]),
            ModelNeed(filename="b.safetensors", folder="loras", verdict="UNCERTAIN", candidates=[
                SourceCandidate(source="civitai", url="https://civitai.com/api/download/models/1", size=5),
                SourceCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/b.safetensors", size=7)]),
            ModelNeed(filename="c.safetensors", folder="vae", verdict="NOT_FOUND"),
            ModelNeed(filename="../../etc/evil.safetensors", folder="checkpoints", verdict="RESOLVED",
                      candidates=[SourceCandidate(source="hf", url="https://huggingface.co/x")]),
        ],
        "node_types": [
            NodeTypeNeed(class_type="KSamplerX", status="RESOLVED",
                         packs=[PackRef(id="pack-x", reference="https://github.com/o/Pack-X.git", commit="a" * 40)]),
            NodeTypeNeed(class_type="KSamplerY", status="RESOLVED",
                         packs=[PackRef(id="pack-x", reference="https://github.com/o/Pack-X.git", commit="a" * 40)]),
            NodeTypeNeed(class_type="NewCoreNode", status="CORE_UPDATE"),
        ],
    }
    base.update(kw)
    return PlanInputs.model_validate(base)


def test_plan_content_and_id(tmp_path: Path) -> None:
    plan = build_plan(inputs(tmp_path), POLICY, free_bytes=50)
    kinds = [a.kind for a in plan.actions]
    assert kinds == ["download_model", "install_node_pack", "update_core"]
    dl = plan.actions[0]
    assert isinstance(dl, DownloadAction)
    assert dl.target == "models/checkpoints/sub/a.safetensors" and dl.sha256 == "ab" * 32
    pack = plan.actions[1]
    assert isinstance(pack, InstallPackAction)
    assert pack.target == "custom_nodes/Pack-X" and pack.class_types == ["KSamplerX", "KSamplerY"]
    assert any(pack.commit and pack.commit in " ".join(c) for c in pack.commands)
    verdicts = {u.item: u.verdict for u in plan.unresolved}
    assert verdicts["model:loras/b.safetensors"] == "UNCERTAIN"
    assert verdicts["model:vae/c.safetensors"] == "NOT_FOUND"
    assert verdicts["model:checkpoints/../../etc/evil.safetensors"] == "REJECTED"
    assert plan.total_download_bytes == 100
    assert not plan.disk_ok and any("not enough disk space" in line for line in summary_lines(plan))
    # same findings → same id; any change → another id
    again = build_plan(inputs(tmp_path), POLICY, free_bytes=10**12)
    assert again.plan_id == plan.plan_id and len(plan.plan_id) == 64
    assert build_plan(inputs(tmp_path, workflows=["other.json"]), POLICY).plan_id != plan.plan_id
    text = "\n".join(summary_lines(plan))
    assert "a.safetensors" in text and "UNCERTAIN" in text and "git" in text


def test_license_and_cap_need_confirmation(tmp_path: Path) -> None:
    policy = PlanPolicy(max_download_bytes=50, max_total_bytes=60, license_allowlist=["mit"])
    plan = build_plan(inputs(tmp_path), policy)
    dl = plan.actions[0]
    assert any("cap" in c for c in dl.confirm) and any("license" in c for c in dl.confirm)
    assert any("total download" in w for w in plan.warnings)


def test_choose_and_drop_make_new_plans(tmp_path: Path) -> None:
    plan = build_plan(inputs(tmp_path), POLICY)
    chosen = choose(plan, "model:loras/b.safetensors", 2)
    assert chosen.plan_id != plan.plan_id and chosen.parent_plan == plan.plan_id
    new = chosen.action("model:loras/b.safetensors")
    assert isinstance(new, DownloadAction) and new.url.endswith("b.safetensors") and new.size == 7
    assert chosen.total_download_bytes == 107
    dropped = drop(chosen, "pack:pack-x")
    assert dropped.action("pack:pack-x") is None
    with pytest.raises(InputError):
        choose(plan, "model:loras/b.safetensors", 3)
    with pytest.raises(InputError):
        drop(plan, "nope")


def test_plan_file_roundtrip_and_tamper_detection(tmp_path: Path) -> None:
    plan = build_plan(inputs(tmp_path), POLICY)
    path = save_plan(plan, tmp_path / "state")
    assert load_plan(path).plan_id == plan.plan_id
    assert "UNCERTAIN" in path.with_suffix(".txt").read_text()
    assert save_plan(plan, tmp_path / "state") == path  # same content: same file, not rewritten
    data = json.loads(path.read_text())
    data["actions"][0]["url"] = "https://huggingface.co/evil"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="does not match its id"):
        load_plan(path)


def test_tokens_single_use_expiry_and_void_on_change(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = build_plan(inputs(tmp_path), POLICY)
    path = save_plan(plan, state)
    granted = approval.issue(path, plan.plan_id, state, ttl_seconds=60)
    assert granted.token.startswith(f"approve:{plan.plan_id}:")
    approval.check(granted.token, path, plan.plan_id, state)  # check does not use it up
    with pytest.raises(ApprovalError, match="expired"):
        approval.check(granted.token, path, plan.plan_id, state, now=datetime.now(UTC) + timedelta(seconds=61))
    approval.consume(granted.token, path, plan.plan_id, state)
    with pytest.raises(ApprovalError, match="already used"):
        approval.consume(granted.token, path, plan.plan_id, state)
    other = approval.issue(path, plan.plan_id, state, ttl_seconds=60)
    with pytest.raises(ApprovalError, match="different plan"):
        approval.check(other.token, path, "0" * 64, state)
    path.write_text(path.read_text() + " ")  # any byte changed voids the approval
    with pytest.raises(ApprovalError, match="changed"):
        approval.consume(other.token, path, plan.plan_id, state)
    with pytest.raises(ApprovalError, match="malformed"):
        approval.parse("approve:xyz")
    with pytest.raises(ApprovalError, match="unknown"):
        approval.check(f"approve:{plan.plan_id}:{'A' * 24}", path, plan.plan_id, state)


def test_concurrent_consume_lets_exactly_one_win(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = build_plan(inputs(tmp_path), POLICY)
    path = save_plan(plan, state)
    token = approval.issue(path, plan.plan_id, state, ttl_seconds=60).token
    wins: list[bool] = []

    def go() -> None:
        try:
            approval.consume(token, path, plan.plan_id, state)
            wins.append(True)
        except ApprovalError:
            wins.append(False)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_journal_is_append_only_and_scrubs_secrets(tmp_path: Path) -> None:
    with Journal(tmp_path, actor="test") as j:
        first = j.append("download_model", inputs={"url": "https://civitai.com/x?token=SECRET", "token": "SECRET"},
                         outputs={"target": tmp_path / "m.safetensors", "sha256": "ab" * 32},
                         before={"m": False}, after={"m": True})
        size = j.path.stat().st_size
        j.append("download_model", status="correction", corrects=first["id"], message="wrong folder")
    raw = (tmp_path / "journal.jsonl").read_bytes()
    assert b"SECRET" not in raw and b"SECRET" not in (tmp_path / "audit.log").read_bytes()
    assert len(raw) > size  # appended, the first line untouched
    entries = read_journal(tmp_path)
    assert [e["action"] for e in entries] == ["download_model", "download_model"]
    assert entries[1]["corrects"] == entries[0]["id"]
    assert entries[0]["before"] == {"m": False} and entries[0]["after"] == {"m": True}
    assert {"ts", "actor", "action", "inputs", "outputs", "before", "after"} <= set(entries[0])
    assert "download_model" in (tmp_path / "audit.log").read_text()


def test_audit_log_rotates(tmp_path: Path) -> None:
    with Journal(tmp_path, actor="test", max_audit_bytes=300, audit_backups=2) as j:
        for i in range(20):
            j.append("move_model", message=f"entry {i} " + "x" * 40)
    assert (tmp_path / "audit.log.1").exists()
    assert len(read_journal(tmp_path)) == 20  # the journal itself never rotates away entries


def test_unknown_folder_is_never_guessed(tmp_path: Path) -> None:
    models = [
        ModelNeed(filename="x.safetensors", folder=None, verdict="RESOLVED",
                  candidates=[SourceCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/x.safetensors")]),
        ModelNeed(filename="y.safetensors", folder=None, verdict="RESOLVED",
                  candidates=[SourceCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/y.safetensors",
                                              folder="loras")]),
    ]
    plan = build_plan(inputs(tmp_path, models=models, node_types=[]), POLICY)
    [action] = plan.actions
    assert isinstance(action, DownloadAction) and action.target == "models/loras/y.safetensors"
    [unknown] = plan.unresolved
    assert unknown.item == "model:?/x.safetensors" and "folder is unknown" in unknown.reason
    with pytest.raises(InputError, match="folder is unknown"):
        choose(plan, unknown.item, 1)
