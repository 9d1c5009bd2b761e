"""Plans (ids, choose/drop, safety of names), approval tokens and the journal."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comfyfixer.agent import approval
from comfyfixer.agent.journal import Journal, read_journal
from comfyfixer.agent.plan import (
    DownloadAction,
    DownloadCandidate,
    InstallPackAction,
    ModelNeed,
    NodeTypeNeed,
    PackRef,
    PlanInputs,
    PlanPolicy,
    build_plan,
    choose,
    drop,
    load_plan,
    placement_dir,
    save_plan,
    summary_lines,
)
from comfyfixer.tools.errors import ApprovalError, InputError, UnsafePathError

POLICY = PlanPolicy(max_download_bytes=10**9, max_total_bytes=2 * 10**9, license_allowlist=[])


def inputs(tmp_path: Path, **kw: object) -> PlanInputs:
    base: dict[str, object] = {
        "comfyui_dir": tmp_path / "ComfyUI",
        "workflows": ["wf.json"],
        "models": [
            ModelNeed(filename="sub\\a.safetensors", folder="checkpoints", verdict="RESOLVED", candidates=[
                DownloadCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/a.safetensors",
                                size=100, sha256="AB" * 32, license="openrail")]),
            ModelNeed(filename="b.safetensors", folder="loras", verdict="UNCERTAIN", candidates=[
                DownloadCandidate(source="civitai", url="https://civitai.com/api/download/models/1", size=5),
                DownloadCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/b.safetensors", size=7)]),
            ModelNeed(filename="c.safetensors", folder="vae", verdict="NOT_FOUND"),
            ModelNeed(filename="../../etc/evil.safetensors", folder="checkpoints", verdict="RESOLVED",
                      candidates=[DownloadCandidate(source="hf", url="https://huggingface.co/x")]),
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
    with pytest.raises(InputError, match="has 2 candidates; 3 is out of range"):
        choose(plan, "model:loras/b.safetensors", 3)
    with pytest.raises(InputError, match="no action 'nope' in the plan"):
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
                  candidates=[DownloadCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/x.safetensors")]),
        ModelNeed(filename="y.safetensors", folder=None, verdict="RESOLVED",
                  candidates=[DownloadCandidate(source="hf", url="https://huggingface.co/o/r/resolve/main/y.safetensors",
                                              folder="loras")]),
    ]
    plan = build_plan(inputs(tmp_path, models=models, node_types=[]), POLICY)
    [action] = plan.actions
    assert isinstance(action, DownloadAction) and action.target == "models/loras/y.safetensors"
    [unknown] = plan.unresolved
    assert unknown.item == "model:?/x.safetensors" and "folder is unknown" in unknown.reason
    with pytest.raises(InputError, match="folder is unknown"):
        choose(plan, unknown.item, 1)


# --- authenticated approval records -------------------------------------------------------------------


def _approved(tmp_path: Path, workflows: tuple[str, ...] = ("wf.json",)) -> tuple[Path, Path, str, approval.Approval]:
    state = tmp_path / "state"
    plan = build_plan(inputs(tmp_path, workflows=list(workflows)), POLICY)
    path = save_plan(plan, state)
    return state, path, plan.plan_id, approval.issue(path, plan.plan_id, state, ttl_seconds=60)


def _record(state: Path, token: str) -> Path:
    return state / "approvals" / f"{approval.parse(token)[1]}.json"


def test_key_is_private_and_never_in_records_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    state, path, plan_id, granted = _approved(tmp_path)
    key_file = approval.key_path(state)
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert len(bytes.fromhex(key)) == 32
    assert not list(state.glob(".approval.key.*"))  # the temporary file was linked into place and removed
    record = _record(state, granted.token).read_text()
    assert key not in record and key not in caplog.text and granted.mac in record
    approval.consume(granted.token, path, plan_id, state)
    assert key_file.read_text().strip() == key  # one key per install, not one per approval


def test_expiry_moved_forward_in_the_record_is_refused(tmp_path: Path) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    rec = _record(state, granted.token)
    data = json.loads(rec.read_text())
    data["expires_at"] = (datetime.now(UTC) + timedelta(days=365)).isoformat(timespec="seconds")
    rec.write_text(json.dumps(data))
    with pytest.raises(ApprovalError, match="was edited") as err:
        approval.check(granted.token, path, plan_id, state)
    assert err.value.hint and "approve" in err.value.hint


@pytest.mark.parametrize("field", ["plan_id", "plan_sha256", "plan_file", "issued_at", "token"])
def test_any_edited_field_is_refused(tmp_path: Path, field: str) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    rec = _record(state, granted.token)
    data = json.loads(rec.read_text())
    data[field] = "0" * 64 if field != "token" else granted.token.rsplit(":", 1)[0] + ":" + "B" * 24
    rec.write_text(json.dumps(data))
    with pytest.raises(ApprovalError, match="edited"):
        approval.check(granted.token, path, plan_id, state)


def test_records_swapped_between_plans_are_refused(tmp_path: Path) -> None:
    state, path1, id1, one = _approved(tmp_path)
    plan2 = build_plan(inputs(tmp_path, workflows=["other.json"]), POLICY)
    path2 = save_plan(plan2, state)
    two = approval.issue(path2, plan2.plan_id, state, ttl_seconds=60)
    rec1, rec2 = _record(state, one.token), _record(state, two.token)
    a, b = rec1.read_text(), rec2.read_text()
    rec1.write_text(b)
    rec2.write_text(a)
    for token, path, pid in ((one.token, path1, id1), (two.token, path2, plan2.plan_id)):
        with pytest.raises(ApprovalError, match="does not belong to this token"):
            approval.check(token, path, pid, state)
    # the other plan's token on this plan file is refused too
    rec1.write_text(a)
    with pytest.raises(ApprovalError, match="different plan"):
        approval.check(two.token, path1, id1, state)


def test_used_flag_cannot_be_cleared(tmp_path: Path) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    approval.consume(granted.token, path, plan_id, state)
    rec = _record(state, granted.token)
    assert json.loads(rec.read_text())["used_at"]
    marker = state / "approvals" / "used" / approval.parse(granted.token)[1]
    marker.unlink()  # deleting the marker alone: the record still says used
    with pytest.raises(ApprovalError, match="already used"):
        approval.consume(granted.token, path, plan_id, state)
    data = json.loads(rec.read_text())
    data["used_at"] = None  # clearing the flag breaks the MAC
    rec.write_text(json.dumps(data))
    with pytest.raises(ApprovalError, match="edited"):
        approval.consume(granted.token, path, plan_id, state)


def test_missing_key_after_issuing_is_refused_clearly(tmp_path: Path) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    approval.key_path(state).unlink()
    with pytest.raises(ApprovalError, match=r"approval key .* is missing") as err:
        approval.check(granted.token, path, plan_id, state)
    assert "approve" in (err.value.hint or "")
    assert not approval.key_path(state).exists()  # checking never makes a key that would bless old records
    fresh = approval.issue(path, plan_id, state, ttl_seconds=60)  # approving again works, with a new key
    approval.consume(fresh.token, path, plan_id, state)
    with pytest.raises(ApprovalError, match="was edited"):  # the old record does not verify under it
        approval.check(granted.token, path, plan_id, state)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    key_file = approval.key_path(state)
    key_file.chmod(0o644)
    with pytest.raises(ApprovalError, match="accessible to other users") as err:
        approval.check(granted.token, path, plan_id, state)
    assert f"chmod 600 {key_file}" in (err.value.hint or "")
    with pytest.raises(ApprovalError, match="accessible to other users"):
        approval.issue(path, plan_id, state, ttl_seconds=60)
    key_file.chmod(0o600)
    approval.consume(granted.token, path, plan_id, state)


def test_damaged_key_is_refused(tmp_path: Path) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    approval.key_path(state).write_text("not hex")
    with pytest.raises(ApprovalError, match="damaged"):
        approval.check(granted.token, path, plan_id, state)


def test_first_use_from_many_threads_shares_one_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = build_plan(inputs(tmp_path), POLICY)
    path = save_plan(plan, state)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(
        approval.issue(path, plan.plan_id, state, ttl_seconds=60).token)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(tokens) == 6
    for token in tokens:  # every record verifies under the one key that won
        approval.check(token, path, plan.plan_id, state)


def test_grant_journals_the_approval_but_not_the_token(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = build_plan(inputs(tmp_path), POLICY)
    path = save_plan(plan, state)
    with Journal(state, actor="test") as j:
        granted = approval.grant(path, plan.plan_id, state, 60, j, via="apply-confirmed",
                                 actions=[a.item for a in plan.actions])
    approval.consume(granted.token, path, plan.plan_id, state)
    [entry] = read_journal(state)
    assert entry["action"] == "approve" and entry["plan_id"] == plan.plan_id
    assert entry["inputs"]["via"] == "apply-confirmed" and entry["outputs"]["expires_at"] == granted.expires_at
    nonce = approval.parse(granted.token)[1]
    assert nonce not in (state / "journal.jsonl").read_text() and nonce not in (state / "audit.log").read_text()


def test_record_without_a_mac_is_refused(tmp_path: Path) -> None:
    state, path, plan_id, granted = _approved(tmp_path)
    rec = _record(state, granted.token)
    data = json.loads(rec.read_text())
    del data["mac"]  # what an older version wrote, or someone removing the field
    rec.write_text(json.dumps(data))
    with pytest.raises(ApprovalError, match="not authenticated"):
        approval.consume(granted.token, path, plan_id, state)


def test_a_pickle_download_is_announced_with_its_safetensors_alternative(tmp_path: Path) -> None:
    ckpt = "https://huggingface.co/o/r/resolve/main/old.ckpt"
    safe = "https://huggingface.co/o/r/resolve/main/old.safetensors"
    plan = build_plan(PlanInputs(comfyui_dir=str(tmp_path), workflows=[], models=[
        ModelNeed(filename="old.ckpt", folder="checkpoints", verdict="RESOLVED", candidates=[
            DownloadCandidate(source="hf", url=ckpt, filename="old.ckpt"),
            DownloadCandidate(source="hf", url=safe, filename="old.safetensors")]),
        ModelNeed(filename="new.safetensors", folder="loras", verdict="RESOLVED", candidates=[
            DownloadCandidate(source="hf", url=safe.replace("old", "new"), filename="new.safetensors")])]), POLICY)
    [warning] = [w for w in plan.warnings if "pickle" in w]
    assert "model:checkpoints/old.ckpt" in warning and "refused" in warning and safe in warning
    assert not any("new.safetensors" in w for w in plan.warnings)


def test_new_files_go_to_the_folder_named_after_the_key() -> None:
    # ComfyUI's table: the directory named after the key, not a legacy second one (models/unet, models/clip).
    assert placement_dir("unet") == placement_dir("diffusion_models") == "models/diffusion_models"
    assert placement_dir("clip") == "models/text_encoders"
    assert placement_dir("t2i_adapter") == "models/controlnet"
    assert placement_dir("Loras") == "models/loras"
    assert placement_dir("detection") == "models/detection"  # a key newer than 0.3.64
    assert placement_dir("ipadapter") == "models/ipadapter"  # a pack's key
    with pytest.raises(UnsafePathError, match="model folder"):
        placement_dir("../outside")
