"""The "Use RunPod" node: pass-through when off; when on, the right sub-prompt and input images go to
the endpoint, progress is reported, images come back as an IMAGE batch (numpy here: no torch), and
misconfiguration fails before any request, naming what to set and never showing the key."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from recorded import Replayer

from comfyfixer.nodes import runpod_remote
from comfyfixer.nodes.nodes import ComfyFixerUseRunPod
from comfyfixer.nodes.settings import PackSettings
from comfyfixer.tools.errors import AuthRequired, ConfigError, InputError, UpstreamError
from comfyfixer.tools.runpod import JobFailed, RunPodClient

KEY = "rp-test-key"
PROMPT = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "sub/cat.png"}},
    "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact", "width": 8,
                                                  "height": 8, "crop": "disabled"}},
    "3": {"class_type": "ComfyFixerUseRunPod", "inputs": {"images": ["2", 0], "use_runpod": True}},
    "4": {"class_type": "ComfyFixerSaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    "9": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "unrelated.safetensors"}},
}
SETTINGS = PackSettings(runpod_endpoint_id="test-endpoint", runpod_api_key=KEY)


def _png(color: tuple[int, int, int], size: tuple[int, int] = (6, 4)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    p = tmp_path / "cat.png"
    p.write_bytes(_png((255, 0, 0)))
    return p


def test_off_passes_through_and_asks_for_the_local_images() -> None:
    node = ComfyFixerUseRunPod()
    images = object()
    assert node.run(use_runpod=False, images=images)[0] is images
    assert node.check_lazy_status(use_runpod=False) == ["images"]
    assert node.check_lazy_status(use_runpod=True) == []  # the local upstream never runs
    assert "lazy" in ComfyFixerUseRunPod.INPUT_TYPES()["required"]["images"][1]
    assert not any("key" in name.lower() for sec in ComfyFixerUseRunPod.INPUT_TYPES().values() for name in sec)


def test_sub_prompt_images_and_manifest(cat: Path) -> None:
    sub = runpod_remote.remote_prompt(PROMPT, "3")
    assert set(sub) == {"1", "2", runpod_remote.SAVE_ID}
    assert sub[runpod_remote.SAVE_ID]["inputs"]["images"] == ["2", 0]
    sub2, images = runpod_remote.attach_images(sub, lambda name: cat)
    assert sub2["1"]["inputs"]["image"] == "cat.png" and sub["1"]["inputs"]["image"] == "sub/cat.png"
    assert images == [{"name": "cat.png", "image": base64.b64encode(cat.read_bytes()).decode()}]
    assert runpod_remote.models_manifest(PROMPT) == ["unrelated.safetensors"]
    with pytest.raises(InputError, match="no linked 'images'"):
        runpod_remote.remote_prompt(PROMPT, "1")


def test_request_body_progress_and_images(cat: Path) -> None:
    bodies: list[dict[str, Any]] = []
    auth: list[str] = []
    statuses = iter(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"])
    out_imgs = [{"filename": f"ComfyFixerRunPod_0000{i}_.png", "type": "base64",
                 "data": base64.b64encode(_png((0, 255 * i, 0))).decode()} for i in (0, 1)]

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers.get("authorization", ""))
        if request.url.path.endswith("/run"):
            bodies.append(json.loads(request.content))
            return httpx.Response(200, json={"id": "job-1", "status": "IN_QUEUE"})
        state = next(statuses)
        body: dict[str, Any] = {"id": "job-1", "status": state}
        if state == "COMPLETED":
            body["output"] = {"images": out_imgs}
        return httpx.Response(200, json=body)

    said: list[str] = []
    client = RunPodClient("test-endpoint", KEY, transport=httpx.MockTransport(handler), sleep=lambda s: None)
    batch = runpod_remote.run_remote(PROMPT, "3", settings=SETTINGS, client=client, notify=said.append,
                                     find_image=lambda name: cat, to_tensor=lambda a: a, timeout_s=60)
    assert isinstance(batch, np.ndarray) and batch.shape == (2, 4, 6, 3) and batch.dtype == np.float32
    assert batch[1, 0, 0].tolist() == [0.0, 1.0, 0.0]
    (body,) = bodies
    assert set(body["input"]["workflow"]) == {"1", "2", runpod_remote.SAVE_ID}
    assert body["input"]["images"][0]["name"] == "cat.png" and body["policy"] == {"executionTimeout": 60_000}
    assert said[0].startswith("submitting 2 node(s) to RunPod") and said[-1] == "job job-1 returned 2 image(s)"
    assert "job job-1 IN_PROGRESS" in said
    assert all(a == f"Bearer {KEY}" for a in auth)
    assert not any(KEY in s for s in said) and KEY not in json.dumps(body)


def test_against_the_recorded_runpod_answers(cat: Path, replay: Replayer) -> None:
    """RunPod's documented answers; the cassette's 1x1 PNG has a bad zlib check, so this also shows a
    broken worker image becomes a clear error instead of a crash inside ComfyUI."""
    said: list[str] = []
    with replay("runpod_run_and_complete.yaml") as cas, pytest.raises(UpstreamError, match="cannot be decoded"):
        client = RunPodClient("test-endpoint", KEY, retries=2, sleep=lambda s: None)
        try:
            runpod_remote.run_remote(PROMPT, "3", settings=SETTINGS, client=client, notify=said.append,
                                     find_image=lambda name: cat, to_tensor=lambda a: a)
        finally:
            assert cas.all_played
    job = "eaebd6e7-6a92-4bb8-a911-f996ac5ea99d"
    assert [s for s in said if s.startswith("job ")] == [f"job {job} IN_QUEUE", f"job {job} IN_QUEUE",
                                                         f"job {job} IN_PROGRESS", f"job {job} COMPLETED"]


def test_a_failed_job_is_a_typed_error(cat: Path, replay: Replayer) -> None:
    with replay("runpod_failed.yaml", allow_playback_repeats=True), pytest.raises(JobFailed, match="FAILED"):
        client = RunPodClient("test-endpoint", KEY, retries=2, sleep=lambda s: None)
        # The cassette answers the status poll only: a job id made up front.
        with client:
            client.wait("eaebd6e7-6a92-4bb8-a911-f996ac5ea99d")


@pytest.mark.parametrize(("settings", "error", "what"), [
    (PackSettings(runpod_api_key=KEY), ConfigError, "COMFYFIXER_RUNPOD_ENDPOINT_ID"),
    (PackSettings(runpod_endpoint_id="e"), AuthRequired, "RUNPOD_API_KEY"),
])
def test_misconfiguration_says_what_to_set(settings: PackSettings, error: type[Exception], what: str) -> None:
    node = ComfyFixerUseRunPod()
    with pytest.raises(error) as err:
        runpod_remote.run_remote(PROMPT, "3", settings=settings, find_image=lambda n: Path("/nonexistent"))
    assert what in str(err.value) and KEY not in str(err.value)
    assert KEY not in repr(settings) and "runpod_api_key=set)" in repr(PackSettings(runpod_api_key=KEY))
    del node


def test_through_the_loopback_runpod_fake(cat: Path) -> None:
    """Real HTTP on loopback (the fake the ComfyUI integration script uses): the settings' base URL, the
    key bound to that origin, the worker-comfyui body, an image sized by the graph's ImageScale."""
    from comfyfixer.evals.fakes.runpod_server import RunPodServer

    with RunPodServer(api_key=KEY, endpoint="ep") as rp:
        settings = PackSettings(runpod_endpoint_id="ep", runpod_api_key=KEY, runpod_base_url=rp.base_url)
        said: list[str] = []
        client = RunPodClient("ep", KEY, base_url=rp.base_url, sleep=lambda s: None)
        batch = runpod_remote.run_remote(PROMPT, "3", settings=settings, client=client, notify=said.append,
                                         find_image=lambda name: cat, to_tensor=lambda a: a)
        (job,) = rp.jobs.values()
    assert batch.shape == (1, 8, 8, 3) and np.allclose(batch[0, 0, 0], [0.0, 128 / 255, 1.0])
    assert job["input"]["images"][0]["name"] == "cat.png"
    assert said[-1].endswith("returned 1 image(s)")
