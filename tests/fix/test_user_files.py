"""The user's files: a move never takes a model away from a workflow that loads it, and a download never
replaces (or quarantines) a different file the user has at the target — it goes beside it, reported."""

from __future__ import annotations

import errno
import json
import threading
import time
from pathlib import Path

import pytest
from dlkit import MB

from comfyfixer.agent.config import load_settings
from comfyfixer.agent.executor import ExecutionReport, Executor, link_or_copy
from comfyfixer.agent.journal import Journal, read_journal
from comfyfixer.agent.plan import (
    DownloadCandidate,
    MisplacedNeed,
    ModelNeed,
    Plan,
    PlanInputs,
    PlanPolicy,
    build_plan,
)
from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import sha256_file
from comfyfixer.tools.errors import ComfyFixerError

POLICY = PlanPolicy(max_download_bytes=10**9, max_total_bytes=10**10)
SHARED = b"shared checkpoint bytes " * 1000


def api_workflow(path: Path, nodes: dict[str, tuple[str, str, str]]) -> Path:
    """An API-format workflow: node id -> (class_type, input name, model file name)."""
    doc = {nid: {"class_type": cls, "inputs": {inp: name, **({"weight_dtype": "default"} if cls == "UNETLoader" else {})}}
           for nid, (cls, inp, name) in nodes.items()}
    path.write_text(json.dumps(doc))
    return path


def run(plan: Plan, state: Path, **kw: object) -> ExecutionReport:
    with Journal(state, actor="test") as journal:
        return Executor(plan, load_settings(), journal, show_progress=False, **kw).run()


# --- moves ---------------------------------------------------------------------------------------------


@pytest.fixture
def shared_checkpoint(comfy: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Workflow A loads shared.safetensors as a checkpoint; workflow B loads the same name as a UNET."""
    ckpt = comfy / "models/checkpoints/shared.safetensors"
    ckpt.write_bytes(SHARED)
    wf_a = api_workflow(tmp_path / "A.json", {"1": ("CheckpointLoaderSimple", "ckpt_name", "shared.safetensors")})
    wf_b = api_workflow(tmp_path / "B.json", {"1": ("UNETLoader", "unet_name", "shared.safetensors")})
    return ckpt, wf_a, wf_b


def move_plan(comfy: Path, workflows: list[Path]) -> Plan:
    return build_plan(PlanInputs(comfyui_dir=comfy, workflows=[str(w) for w in workflows], misplaced=[
        MisplacedNeed(filename="shared.safetensors", found_in="models/checkpoints/shared.safetensors",
                      expected_folder="diffusion_models")]), POLICY)


def test_fixing_b_keeps_the_checkpoint_that_a_loads(comfy: Path, state: Path,
                                                   shared_checkpoint: tuple[Path, Path, Path]) -> None:
    ckpt, wf_a, wf_b = shared_checkpoint
    plan = move_plan(comfy, [wf_b])
    report = run(plan, state, known_workflows=[wf_a])  # A is known from the readiness check
    [outcome] = report.outcomes
    new = comfy / "models/diffusion_models/shared.safetensors"
    assert outcome.status == "done" and outcome.details["kept_original"] is True
    assert outcome.details["used_by"] == [str(wf_a)] and "A.json" in outcome.message
    assert ckpt.read_bytes() == SHARED and new.read_bytes() == SHARED
    assert ckpt.stat().st_ino == new.stat().st_ino  # same device: a hard link, no extra space
    [entry] = [e for e in read_journal(state) if e["action"] == "move_model"]
    assert entry["after"] == {str(ckpt): True, str(new): True} and entry["outputs"]["kept_original"] is True
    # the same plan again: both places hold the file, nothing to do (not a failure)
    [again] = run(plan, state, known_workflows=[wf_a]).outcomes
    assert again.status == "already_done" and ckpt.exists() and new.exists()
    new.unlink()
    new.write_bytes(b"something else")  # a different file there is never overwritten
    [third] = run(plan, state, known_workflows=[wf_a]).outcomes
    assert third.status == "failed" and "not overwriting" in third.message and new.read_bytes() == b"something else"


def test_a_workflow_in_the_plan_counts_too(comfy: Path, state: Path,
                                          shared_checkpoint: tuple[Path, Path, Path]) -> None:
    ckpt, wf_a, wf_b = shared_checkpoint
    report = run(move_plan(comfy, [wf_a, wf_b]), state)
    assert report.outcomes[0].details["used_by"] == [str(wf_a)] and ckpt.exists()


def test_no_other_user_means_a_real_move(comfy: Path, state: Path, tmp_path: Path,
                                         shared_checkpoint: tuple[Path, Path, Path]) -> None:
    ckpt, _wf_a, wf_b = shared_checkpoint
    # a lora of the same name does not load models/checkpoints/shared.safetensors
    other = api_workflow(tmp_path / "C.json", {"1": ("LoraLoaderModelOnly", "lora_name", "shared.safetensors")})
    report = run(move_plan(comfy, [wf_b]), state, known_workflows=[other])
    [outcome] = report.outcomes
    assert outcome.status == "done" and outcome.details == {"method": "hardlink", "kept_original": False, "used_by": []}
    assert not ckpt.exists() and (comfy / "models/diffusion_models/shared.safetensors").read_bytes() == SHARED


def test_unknown_loader_or_unreadable_workflow_keeps_the_file(comfy: Path, state: Path, tmp_path: Path,
                                                              shared_checkpoint: tuple[Path, Path, Path]) -> None:
    ckpt, _wf_a, wf_b = shared_checkpoint
    custom = api_workflow(tmp_path / "custom.json", {"1": ("SomePackLoader", "model", "shared.safetensors")})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for extra in (custom, broken):
        report = run(move_plan(comfy, [wf_b]), state, known_workflows=[extra])
        assert report.outcomes[0].details["used_by"] == [str(extra)]
        assert ckpt.exists()
        (comfy / "models/diffusion_models/shared.safetensors").unlink()
    # a known workflow file that is gone loads nothing: the move is a real move
    report = run(move_plan(comfy, [wf_b]), state, known_workflows=[tmp_path / "deleted.json"])
    assert report.outcomes[0].details["used_by"] == [] and not ckpt.exists()


def test_workflows_saved_in_comfyui_count_as_known(comfy: Path, state: Path,
                                                   shared_checkpoint: tuple[Path, Path, Path]) -> None:
    ckpt, wf_a, wf_b = shared_checkpoint
    saved = comfy / "user/default/workflows/portraits"
    saved.mkdir(parents=True)
    a_saved = saved / "A.json"
    a_saved.write_text(wf_a.read_text())
    (comfy / "user/default/workflows/settings.json").write_text('{"not": "a workflow"}')  # skipped, not a user
    report = run(move_plan(comfy, [wf_b]), state)
    assert report.outcomes[0].details["used_by"] == [str(a_saved)] and ckpt.exists()
    (comfy / "models/diffusion_models/shared.safetensors").unlink()
    report = run(move_plan(comfy, [wf_b]), state, saved_workflows=False)
    assert report.outcomes[0].details["used_by"] == [] and not ckpt.exists()


def test_model_refs_can_come_from_the_caller(comfy: Path, state: Path,
                                             shared_checkpoint: tuple[Path, Path, Path]) -> None:
    ckpt, wf_a, wf_b = shared_checkpoint
    seen: list[Path] = []

    def refs(path: Path) -> list[tuple[str | None, str]]:
        seen.append(path)
        return [("checkpoints", "shared.safetensors")] if path.name == "A.json" else []

    report = run(move_plan(comfy, [wf_b]), state, known_workflows=[wf_a], model_refs=refs)
    assert report.outcomes[0].details["used_by"] == [str(wf_a)] and sorted(p.name for p in seen) == ["A.json", "B.json"]
    assert ckpt.exists()


def test_dry_run_says_the_file_is_kept(comfy: Path, state: Path, shared_checkpoint: tuple[Path, Path, Path]) -> None:
    _ckpt, wf_a, wf_b = shared_checkpoint
    with Journal(state, actor="test") as journal:
        report = Executor(move_plan(comfy, [wf_b]), load_settings(), journal, dry_run=True,
                          known_workflows=[wf_a], show_progress=False).run()
    assert "keep" in report.outcomes[0].message and "A.json" in report.outcomes[0].message
    assert not (comfy / "models/diffusion_models/shared.safetensors").exists()


def test_without_hard_links_the_copy_is_verified_and_nothing_is_overwritten(tmp_path: Path) -> None:
    src = tmp_path / "a.safetensors"
    src.write_bytes(SHARED)

    def no_links(_src: Path, _dst: Path) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    dst = tmp_path / "other" / "a.safetensors"
    dst.parent.mkdir()
    assert link_or_copy(src, dst, link=no_links) == "copy"
    assert dst.read_bytes() == SHARED and src.read_bytes() == SHARED and dst.stat().st_ino != src.stat().st_ino
    assert sorted(p.name for p in dst.parent.iterdir()) == ["a.safetensors"]  # no temporary left behind
    with pytest.raises(ComfyFixerError, match="not overwriting"):
        link_or_copy(src, dst)
    with pytest.raises(ComfyFixerError, match="left it untouched"):
        link_or_copy(src, dst, link=no_links)
    assert dst.read_bytes() == SHARED


# --- downloads onto a name that is taken ------------------------------------------------------------------


def download_plan(comfy: Path, server: FileServer, name: str, seed: int) -> tuple[Plan, str]:
    f = server.add_file(f"served_{seed}.safetensors", MB // 4, seed=seed)
    plan = build_plan(PlanInputs(comfyui_dir=comfy, models=[ModelNeed(
        filename=name, folder="checkpoints", verdict="RESOLVED",
        candidates=[DownloadCandidate(source="hf", url=server.direct_url(f.name), sha256=f.sha256, size=f.size)])]),
        POLICY)
    return plan, f.sha256


def test_a_different_file_at_the_target_is_kept_and_the_download_goes_beside_it(
        comfy: Path, state: Path, server: FileServer) -> None:
    plan, sha = download_plan(comfy, server, "x.safetensors", seed=41)
    mine = comfy / "models/checkpoints/x.safetensors"
    mine.write_bytes(b"the user's own x")
    inode = mine.stat().st_ino
    [outcome] = run(plan, state).outcomes
    beside = comfy / "models/checkpoints/x (comfyfixer 1).safetensors"
    assert outcome.status == "done"
    assert outcome.message.startswith("CONFLICT:") and "x (comfyfixer 1).safetensors" in outcome.message
    assert outcome.details["conflict"] == {"kept": "models/checkpoints/x.safetensors",
                                           "existing": outcome.details["conflict"]["existing"],
                                           "placed_at": "models/checkpoints/x (comfyfixer 1).safetensors"}
    assert mine.read_bytes() == b"the user's own x" and mine.stat().st_ino == inode
    assert sha256_file(beside) == sha
    assert not (comfy / ".comfyfixer/quarantine").exists() or not any((comfy / ".comfyfixer/quarantine").iterdir())
    [entry] = [e for e in read_journal(state) if e["action"] == "download_model"]
    assert entry["outputs"]["conflict"]["placed_at"].endswith("x (comfyfixer 1).safetensors")

    # the same plan again: the download is already beside it, nothing new appears
    [again] = run(plan, state).outcomes
    assert again.status == "already_done" and again.message.startswith("CONFLICT:")
    assert sorted(p.name for p in mine.parent.iterdir()) == ["x (comfyfixer 1).safetensors", "x.safetensors"]


def test_taken_alternative_names_are_skipped(comfy: Path, state: Path, server: FileServer) -> None:
    plan, sha = download_plan(comfy, server, "y.safetensors", seed=42)
    folder = comfy / "models/checkpoints"
    (folder / "y.safetensors").write_bytes(b"user y")
    (folder / "y (comfyfixer 1).safetensors").write_bytes(b"something else")
    [outcome] = run(plan, state).outcomes
    assert outcome.details["conflict"]["placed_at"] == "models/checkpoints/y (comfyfixer 2).safetensors"
    assert (folder / "y (comfyfixer 1).safetensors").read_bytes() == b"something else"
    assert sha256_file(folder / "y (comfyfixer 2).safetensors") == sha


def test_a_long_name_is_shortened_for_the_conflict_copy(comfy: Path, state: Path, server: FileServer) -> None:
    long = "é" * 100 + "x" * 40 + ".safetensors"  # 252 bytes: no room left for " (comfyfixer 1)"
    plan, sha = download_plan(comfy, server, long, seed=46)
    (comfy / "models/checkpoints" / long).write_bytes(b"user's long one")
    [outcome] = run(plan, state).outcomes
    assert "conflict" in outcome.details, outcome.message
    placed = Path(outcome.details["conflict"]["placed_at"]).name
    assert placed.endswith(" (comfyfixer 1).safetensors") and len(placed.encode()) <= 255
    assert sha256_file(comfy / "models/checkpoints" / placed) == sha


def test_the_expected_file_at_the_target_is_simply_already_there(comfy: Path, state: Path,
                                                                 server: FileServer) -> None:
    plan, _sha = download_plan(comfy, server, "z.safetensors", seed=43)
    [first] = run(plan, state).outcomes
    [again] = run(plan, state).outcomes
    assert first.status == "done" and again.status == "already_done"
    assert "conflict" not in again.details and not again.message.startswith("CONFLICT")
    assert sorted(p.name for p in (comfy / "models/checkpoints").iterdir()) == ["z.safetensors"]


def test_dry_run_mentions_a_file_at_the_target_and_touches_nothing(comfy: Path, state: Path,
                                                                   server: FileServer) -> None:
    plan, _sha = download_plan(comfy, server, "w.safetensors", seed=44)
    mine = comfy / "models/checkpoints/w.safetensors"
    mine.write_bytes(b"user w")
    with Journal(state, actor="test") as journal:
        report = Executor(plan, load_settings(), journal, dry_run=True, show_progress=False).run()
    assert "already there: it is kept" in report.outcomes[0].message
    assert sorted(p.name for p in mine.parent.iterdir()) == ["w.safetensors"] and mine.read_bytes() == b"user w"


def test_a_file_that_appears_while_downloading_is_kept_and_ours_is_adopted_beside_it(
        comfy: Path, state: Path, server: FileServer) -> None:
    f = server.add_file("served_race.safetensors", MB // 2, seed=45, stall_after=MB // 4)
    plan = build_plan(PlanInputs(comfyui_dir=comfy, models=[ModelNeed(
        filename="race.safetensors", folder="checkpoints", verdict="RESOLVED",
        candidates=[DownloadCandidate(source="hf", url=server.direct_url(f.name), sha256=f.sha256, size=f.size)])]),
        POLICY)
    staging = comfy / ".comfyfixer" / "staging"
    result: list[ExecutionReport] = []
    worker = threading.Thread(target=lambda: result.append(run(plan, state)))
    worker.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.bytes_sent(f.name) < MB // 4:  # mid-download, stalled
        time.sleep(0.01)
    assert server.bytes_sent(f.name) >= MB // 4 and not result
    mine = comfy / "models/checkpoints/race.safetensors"
    mine.write_bytes(b"the user copied this in meanwhile")
    f.stall_release.set()
    worker.join(20)
    [outcome] = result[0].outcomes
    assert outcome.status == "done" and outcome.message.startswith("CONFLICT:")
    assert "appeared while downloading" in outcome.message
    assert mine.read_bytes() == b"the user copied this in meanwhile"
    assert sha256_file(comfy / "models/checkpoints/race (comfyfixer 1).safetensors") == f.sha256
    assert list(staging.iterdir()) == []  # the verified staged file was adopted, not fetched again
    assert server.bytes_sent(f.name) <= f.size + MB // 4  # (at most a retried tail; never a second full copy)


def test_long_names_fit_in_staging_and_quarantine(tmp_path: Path) -> None:
    from comfyfixer.tools.download.staging import part_paths, quarantine

    long = "é" * 120 + ".safetensors"  # 252 bytes, legal as a model name
    part, meta = part_paths(tmp_path / "staging", tmp_path / long, "identity")
    assert len(part.name.encode()) <= 205 and len((meta.name + ".12345.tmp").encode()) <= 255
    victim = tmp_path / long
    victim.write_bytes(b"rejected")
    dest = quarantine(victim, tmp_path / "q", "a test")
    assert dest.read_bytes() == b"rejected" and not victim.exists()
    assert len(dest.with_name(dest.name + ".json").name.encode()) <= 255 - 20
    assert json.loads(dest.with_name(dest.name + ".json").read_text())["original"] == str(victim)
