""""Use RunPod": the part of the current prompt that feeds one node, run on the user's RunPod endpoint.

The node's ``images`` input names an upstream output; that node and all its ancestors are sent to a
worker-comfyui endpoint (``tools/runpod``'s client and request shape) with a ``SaveImage`` added on
that output, the images the ``LoadImage`` nodes read are sent along, and the returned images come back
as one IMAGE batch. Everything that could go wrong before money is spent is checked first: endpoint and
key configured (errors say which variable to set), a request under RunPod's 10 MB limit. The API key
is read from the settings, handed to ``RunPodClient`` (which sends it only to RunPod's origin) and
appears in no message, log line or return value.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comfyfixer.nodes import images as image_conv
from comfyfixer.nodes.settings import PackSettings
from comfyfixer.tools.errors import AuthRequired, ConfigError, InputError, UpstreamError

log = logging.getLogger(__name__)

SAVE_ID = "comfyfixer_runpod_save"
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
_IMAGE_LOADERS = {"LoadImage": "image", "LoadImageMask": "image", "LoadImageOutput": "image"}


def _is_link(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[1], int)


def remote_prompt(prompt: dict[str, Any], node_id: str, input_name: str = "images") -> dict[str, Any]:
    """The API prompt to send: the ancestors of ``node_id``'s ``input_name`` plus a SaveImage on that output.

    Raises ``InputError`` when the node or its link is missing (the node must be fed by a link).
    """
    node = prompt.get(node_id)
    link = (node or {}).get("inputs", {}).get(input_name) if isinstance(node, dict) else None
    if not isinstance(link, list) or not _is_link(link):
        raise InputError(f"node {node_id} has no linked {input_name!r} input in the prompt",
                         hint="connect the images you want made on RunPod to the Use RunPod node")
    keep: set[str] = set()
    todo = [str(link[0])]
    while todo:
        nid = todo.pop()
        if nid in keep or nid not in prompt:
            continue
        keep.add(nid)
        todo.extend(str(v[0]) for v in prompt[nid].get("inputs", {}).values() if _is_link(v))
    sub = {nid: prompt[nid] for nid in prompt if nid in keep}
    sub[SAVE_ID] = {"class_type": "SaveImage", "inputs": {"images": [str(link[0]), int(link[1])],
                                                          "filename_prefix": "ComfyFixerRunPod"}}
    return sub


def models_manifest(prompt: dict[str, Any]) -> list[str]:
    """Model file names the endpoint's workers must have (string inputs with a model file suffix)."""
    names = {str(v) for n in prompt.values() for v in n.get("inputs", {}).values()
             if isinstance(v, str) and v.lower().endswith(MODEL_SUFFIXES)}
    return sorted(names)


def default_image_path(name: str) -> Path:
    """Where ComfyUI keeps an input image named in a LoadImage node."""
    import folder_paths  # ComfyUI's module

    return Path(folder_paths.get_annotated_filepath(name))


def attach_images(prompt: dict[str, Any], find: Callable[[str], Path]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(prompt with loader names reduced to file names, worker-comfyui ``images`` list)."""
    from comfyfixer.tools.paths import safe_filename

    out = {nid: dict(n, inputs=dict(n.get("inputs", {}))) for nid, n in prompt.items()}
    sent: dict[str, str] = {}
    for node in out.values():
        key = _IMAGE_LOADERS.get(str(node.get("class_type")))
        value = node["inputs"].get(key) if key else None
        if not isinstance(value, str) or not value:
            continue
        clean = value.split(" [", 1)[0]  # ComfyUI's annotated names: "x.png [input]"
        name = safe_filename(clean.replace("\\", "/").rsplit("/", 1)[-1], what="input image name")
        if name not in sent:
            try:
                sent[name] = base64.b64encode(find(value).read_bytes()).decode("ascii")
            except OSError as exc:
                raise InputError(f"input image {value!r} cannot be read ({exc.strerror or exc})",
                                 hint="check the LoadImage node's file is in ComfyUI's input folder") from None
        node["inputs"][key] = name
    return out, [{"name": n, "image": data} for n, data in sent.items()]


def default_notify(node_id: str) -> Callable[[str], None]:
    """Progress text shown on the node in the ComfyUI frontend (and logged)."""
    def notify(text: str) -> None:
        log.info("RunPod: %s", text)
        try:
            from server import PromptServer  # ComfyUI's module

            PromptServer.instance.send_progress_text(text, node_id)
        except Exception:  # outside ComfyUI, or an old server: the log line is enough
            pass
    return notify


def _fetch(url: str, timeout: float) -> bytes:
    from comfyfixer.tools.http import build_client

    with build_client(timeout=timeout) as http:
        resp = http.get(url)
        resp.raise_for_status()
        return resp.content


def run_remote(prompt: dict[str, Any], node_id: str, *, settings: PackSettings, timeout_s: float = 900.0,
               client: Any = None, notify: Callable[[str], None] | None = None,
               find_image: Callable[[str], Path] = default_image_path,
               to_tensor: Callable[[Any], Any] = image_conv.default_to_tensor) -> Any:
    """Submit, wait with progress messages, and return the job's images as one IMAGE batch.

    ``client`` is a ready ``RunPodClient`` (tests pass one with an instant ``sleep``); by default one is
    built from ``settings``. Raises ``ConfigError`` without an endpoint, ``AuthRequired`` without a key,
    ``InputError`` for an unusable prompt or input image, ``JobFailed`` when the job fails or times out
    and ``UpstreamError`` when it returns no image.
    """
    from comfyfixer.tools.runpod import ComfyJobInput, ComfyJobOutput, RunPodClient

    say = notify or default_notify(node_id)
    if client is None:
        if not settings.runpod_endpoint_id:
            raise ConfigError("Use RunPod is on but no RunPod endpoint is configured",
                              hint="set COMFYFIXER_RUNPOD_ENDPOINT_ID (or runpod_endpoint_id in comfyfixer.toml)")
        if not settings.runpod_api_key:
            raise AuthRequired("Use RunPod is on but no RunPod API key is configured",
                               hint="set RUNPOD_API_KEY in ComfyUI's environment (never in a widget)")
    sub = remote_prompt(prompt, node_id)
    sub, sent = attach_images(sub, find_image)
    models = models_manifest(sub)
    job_input = ComfyJobInput.model_validate({"workflow": sub, "images": sent}).model_dump(exclude_defaults=True)
    if client is None:
        client = RunPodClient(str(settings.runpod_endpoint_id), settings.runpod_api_key,
                              base_url=settings.runpod_base_url, timeout=settings.http_timeout)
    with client:
        say(f"submitting {len(sub) - 1} node(s) to RunPod" + (f"; the endpoint needs {', '.join(models)}" if models else ""))
        queued = client.run(job_input, execution_timeout_ms=int(timeout_s * 1000))
        say(f"job {queued.id} {queued.status}")
        done = client.wait(queued.id, deadline_s=timeout_s, on_update=lambda j: say(f"job {j.id} {j.status}"))
    output = ComfyJobOutput.model_validate(done.output or {})
    blobs = [image_conv.b64_image(img.data) if img.type == "base64" else _fetch(img.data, settings.http_timeout)
             for img in output.images]
    if not blobs:
        raise UpstreamError(f"RunPod job {done.id} finished without images" +
                            (f": {'; '.join(output.errors)}" if output.errors else ""))
    try:
        batch = image_conv.decode_batch(blobs, to_tensor)
    except OSError as exc:  # Pillow's UnidentifiedImageError and broken streams are OSErrors
        names = ", ".join(img.filename for img in output.images)
        raise UpstreamError(f"RunPod job {done.id} returned an image that cannot be decoded ({names}: {exc})") from None
    say(f"job {done.id} returned {len(blobs)} image(s)")
    return batch
