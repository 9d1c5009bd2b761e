"""RunPod client against cassettes built from RunPod's documented answers; job preparation on real workflows."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from recorded import Replayer

from comfyfixer.tools.errors import AuthRequired, HTTPError, InputError, NotFound
from comfyfixer.tools.runpod import (
    ComfyJobOutput,
    JobFailed,
    RunPodClient,
    RunPodPrepareInput,
    build_job_request,
    save_outputs,
)

JOB = "eaebd6e7-6a92-4bb8-a911-f996ac5ea99d"


def _client(key: str | None = "rp-test-key") -> RunPodClient:
    return RunPodClient("test-endpoint", key, retries=2, sleep=lambda s: None)


def test_run_poll_complete_and_save(tmp_path: Path, replay: Replayer) -> None:
    updates: list[str] = []
    with replay("runpod_run_and_complete.yaml") as cas, _client() as rp:
        queued = rp.run({"workflow": {"1": {"class_type": "EmptyImage", "inputs": {}}}})
        assert queued.status == "IN_QUEUE"
        done = rp.wait(queued.id, on_update=lambda j: updates.append(j.status))
        assert cas.all_played
    assert updates == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    assert done.delay_time_ms == 31618 and done.execution_time_ms == 1437
    files, urls = save_outputs(ComfyJobOutput.model_validate(done.output), tmp_path)
    again, _ = save_outputs(ComfyJobOutput.model_validate(done.output), tmp_path)
    assert files[0].read_bytes().startswith(b"\x89PNG") and urls == []
    assert again[0] != files[0] and again[0].name == "ComfyUI_00001_-1.png"  # never overwritten


def test_run_body_and_timeout_policy() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "j1", "status": "IN_QUEUE"})

    with RunPodClient("e", "k", transport=httpx.MockTransport(handler)) as rp:
        rp.run({"workflow": {"1": {}}}, execution_timeout_ms=120_000)
    assert bodies == [{"input": {"workflow": {"1": {}}}, "policy": {"executionTimeout": 120_000}}]


def test_failed_job_is_a_typed_error(replay: Replayer) -> None:
    with replay("runpod_failed.yaml"), _client() as rp, pytest.raises(JobFailed) as err:
        rp.wait(JOB)
    assert err.value.job.status == "FAILED" and "Value not in list" in str(err.value)


def test_expired_job_says_why(replay: Replayer) -> None:
    with replay("runpod_expired.yaml"), _client() as rp, pytest.raises(NotFound, match="expired"):
        rp.status(JOB)


def test_429_on_run_is_retried_once_accepted(replay: Replayer) -> None:
    with replay("runpod_rate_limited_then_queued.yaml") as cas, _client() as rp:
        assert rp.run({"workflow": {}}).id == JOB
        assert cas.play_count == 2


def test_bad_key_and_missing_key(replay: Replayer) -> None:
    with replay("runpod_unauthorized.yaml"), _client() as rp, pytest.raises(AuthRequired, match=r"RunPod refused access \(401\)"):
        rp.health()
    with _client(None) as rp, pytest.raises(AuthRequired, match="RUNPOD_API_KEY"):
        rp.health()


def test_health_and_cancel(replay: Replayer) -> None:
    with replay("runpod_health.yaml"), _client() as rp:
        h = rp.health()
    assert h.jobs["failed"] == 5 and h.workers["idle"] == 0
    with replay("runpod_cancel.yaml"), _client() as rp:
        assert rp.cancel("724907fe-7bcc-4e42-998d-52cb93e1421f-u1").status == "CANCELLED"


def test_key_goes_to_runpod_only() -> None:
    seen: dict[str, str | None] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers.get("authorization")
        if request.url.host == "api.runpod.ai":
            return httpx.Response(302, headers={"Location": "https://elsewhere.example/health"})
        return httpx.Response(200, json={"jobs": {}, "workers": {}})

    rp = RunPodClient("test-endpoint", "rp-test-key", transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with pytest.raises(HTTPError):
        rp.health()  # a redirect is not followed for API calls
    assert seen == {"api.runpod.ai": "Bearer rp-test-key"}
    rp._http.get("https://elsewhere.example/x")
    rp.close()
    assert seen["elsewhere.example"] is None


def test_prepare_converts_ui_to_api_and_lists_needs(shared_data: Path, tmp_path: Path) -> None:
    wf = shared_data / "comfyui" / "template_2_pass_pose_worship.json"
    img = tmp_path / "input (3).png"
    img.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    req = build_job_request(RunPodPrepareInput(workflow=str(wf), endpoint_id="e1", images=[str(img)]))
    assert all("class_type" in n for n in req.input.workflow.values())
    assert "majicmixRealistic_v7.safetensors" in req.models_needed
    assert req.images_needed == ["input (3).png"]
    assert not any("did not supply" in w for w in req.warnings)
    assert req.input.images[0].name == "input (3).png"


def test_prepare_matches_worker_comfyui_sample(shared_data: Path, tmp_path: Path) -> None:
    sample = json.loads((shared_data / "api" / "runpod" / "worker_comfyui_request_test_input.json").read_text())
    wf = tmp_path / "api.json"
    wf.write_text(json.dumps(sample["input"]["workflow"]))
    req = build_job_request(RunPodPrepareInput(workflow=str(wf), endpoint_id="e1"))
    assert req.input.workflow == sample["input"]["workflow"]


def test_unsafe_output_names_are_refused(tmp_path: Path) -> None:
    out = ComfyJobOutput.model_validate({"images": [{"filename": "..", "type": "base64", "data": "AAAA"}]})
    with pytest.raises(InputError, match=r"unsafe file name '\.\.'"):
        save_outputs(out, tmp_path)
