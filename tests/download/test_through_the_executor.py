"""The limits reach the user through ``comfyfixer apply``: the executor passes rounded sizes and item ids on."""

from __future__ import annotations

from pathlib import Path

from dlkit import MB, model_files
from pickles import HOSTILE, torch_zip

from comfyfixer.agent.config import load_settings
from comfyfixer.agent.executor import ExecutionReport, Executor
from comfyfixer.agent.journal import Journal
from comfyfixer.agent.plan import DownloadCandidate, ModelNeed, Plan, PlanInputs, PlanPolicy, build_plan
from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.evals.fakes.hostile_server import HostileServer

POLICY = PlanPolicy(max_download_bytes=10**9, max_total_bytes=10**10)


def plan_for(comfy: Path, name: str, cand: DownloadCandidate) -> Plan:
    return build_plan(PlanInputs(comfyui_dir=comfy, models=[
        ModelNeed(filename=name, folder="checkpoints", verdict="RESOLVED", candidates=[cand])]), POLICY)


def run(plan: Plan, state: Path) -> ExecutionReport:
    with Journal(state, actor="test") as journal:
        return Executor(plan, load_settings(), journal, show_progress=False).run()


def test_a_civitai_file_4000_times_its_size_is_refused(hostile: HostileServer, comfy: Path, state: Path) -> None:
    f = hostile.add("liar.safetensors", 64 * MB, seed=11)
    plan = plan_for(comfy, f.name, DownloadCandidate(source="civitai", url=hostile.file_url(f.name), size=16 << 10))
    [action] = plan.actions
    assert not action.size_exact  # a rounded size: before, it was not checked at all
    [out] = run(plan, state).outcomes
    assert out.status == "failed" and out.error_type == "IntegrityError"
    assert "about 16.0 KB" in out.message and "nothing was downloaded" in out.message
    assert model_files(comfy) == []


def test_a_refused_pickle_names_the_item_to_approve(tmp_path: Path, comfy: Path, state: Path) -> None:
    with FileServer(tmp_path / "files") as files:
        files.add_file("evil.ckpt", data=torch_zip({"data.pkl": HOSTILE["posixpath.join p2"][0]}))
        plan = plan_for(comfy, "evil.ckpt", DownloadCandidate(source="hf", url=files.direct_url("evil.ckpt")))
        [out] = run(plan, state).outcomes
    assert out.status == "failed" and out.error_type == "IntegrityError"
    assert "the pickle imports posixpath.join" in out.message
    assert f"--allow-pickle {out.item}" in out.message and out.item == "model:checkpoints/evil.ckpt"
