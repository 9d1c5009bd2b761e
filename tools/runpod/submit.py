"""Prepare a worker-comfyui job from a workflow (no network, no cost) and save what a job returns.

Preparing converts a UI workflow to API format with the given schemas (the bundled core snapshot when
none), attaches the input images the user named, and lists what the endpoint's workers must already
have: model files (nothing is uploaded to the worker) and images the workflow loads but the user did
not supply.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from pydantic import BaseModel, Field

from comfyfixer.tools.errors import ConfigError, InputError
from comfyfixer.tools.paths import safe_filename
from comfyfixer.tools.runpod.client import MAX_RUN_PAYLOAD
from comfyfixer.tools.runpod.models import ComfyJobInput, ComfyJobOutput, InputImage
from comfyfixer.tools.schema.loader import SchemaSet, bundled_core_schemas
from comfyfixer.tools.workflow import graph_to_api, inspect_loaded, load_workflow

_IMAGE_INPUTS = {"LoadImage": "image", "LoadImageMask": "image", "LoadImageOutput": "image"}


class RunPodPrepareInput(BaseModel):
    """Which workflow to prepare for RunPod, and for which endpoint."""

    workflow: str = Field(description="Path of the workflow (UI or API JSON, or an image embedding one).")
    endpoint_id: str | None = Field(
        default=None, description="The RunPod serverless endpoint id (a worker-comfyui endpoint); default: the configured one."
    )
    images: list[str] = Field(default_factory=list, description="Paths of input images the workflow loads.")


class RunPodJobRequest(BaseModel):
    """A job ready to send: nothing has been sent and nothing has been spent.

    ``input`` is the exact worker-comfyui ``input``; ``size_bytes`` the length of the ``/run`` body as JSON
    (checked against the 10 MB limit); ``warnings`` say what may fail on the worker.
    """

    endpoint_id: str
    input: ComfyJobInput
    size_bytes: int
    models_needed: list[str] = Field(description="Model files the endpoint's workers must have.")
    images_needed: list[str] = Field(description="Images the workflow loads by name.")
    warnings: list[str] = Field(default_factory=list)


def _encode_image(path: Path) -> InputImage:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read input image ({exc.strerror})") from None
    return InputImage(name=safe_filename(path.name), image=base64.b64encode(data).decode("ascii"))


def build_job_request(inp: RunPodPrepareInput, *, schemas: SchemaSet | None = None) -> RunPodJobRequest:
    """Build the worker-comfyui request for a workflow: the API-format graph plus its input images.

    Checks what the endpoint must provide (model files, images the workflow loads) and RunPod's
    10 MB request limit. Sends nothing: submitting costs money and needs the user's approval.

    Raises ``ConfigError`` without an endpoint id, ``InputError`` for an unreadable image, a workflow with
    no executable nodes, or a request over 10 MB, and the workflow loader's errors for a bad file.
    Only ``LoadImage``, ``LoadImageMask`` and ``LoadImageOutput`` are checked for needed images.
    """
    if not inp.endpoint_id:
        raise ConfigError("no RunPod endpoint given", hint="pass --endpoint ID or set COMFYFIXER_RUNPOD_ENDPOINT_ID")
    schemas = schemas if schemas is not None else bundled_core_schemas()
    loaded = load_workflow(inp.workflow)
    inspection = inspect_loaded(loaded, schemas=schemas)
    prompt = dict(loaded.data) if loaded.format == "api" else graph_to_api(loaded.graph, schemas)
    if not prompt:
        raise InputError(f"{inp.workflow}: no executable nodes (everything is muted, bypassed or virtual)")
    warnings: list[str] = []
    needed: list[str] = []
    for node in prompt.values():
        key = _IMAGE_INPUTS.get(str(node.get("class_type")))
        value = node.get("inputs", {}).get(key) if key else None
        if isinstance(value, str) and value:
            needed.append(value)
    images = [_encode_image(Path(p)) for p in inp.images]
    have = {i.name for i in images}
    missing = sorted({n for n in needed if n.rsplit("/", 1)[-1] not in have})
    if missing:
        warnings.append("the workflow loads images you did not supply (the worker must already have them): "
                        + ", ".join(missing))
    job_input = ComfyJobInput(workflow=prompt, images=images)
    size = len(json.dumps({"input": job_input.model_dump()}))
    if size > MAX_RUN_PAYLOAD:
        raise InputError(f"the job would be {size / 1e6:.1f} MB; RunPod's /run takes at most 10 MB",
                         hint="send smaller input images")
    models = sorted({m.filename for m in inspection.models if m.active})
    if models:
        warnings.append(f"the endpoint's workers must have {len(models)} model file(s) in place")
    return RunPodJobRequest(endpoint_id=inp.endpoint_id, input=job_input, size_bytes=size, models_needed=models,
                            images_needed=sorted(set(needed)), warnings=warnings)


def _free_name(out_dir: Path, name: str) -> Path:
    """A new file name: never overwrite what is there."""
    target = out_dir / name
    stem, suffix = target.stem, target.suffix
    n = 1
    while target.exists():
        target = out_dir / f"{stem}-{n}{suffix}"
        n += 1
    return target


def save_outputs(output: ComfyJobOutput, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Write base64 images into ``out_dir`` (new names, never overwriting); return (files, s3 URLs).

    Names come from the worker and are reduced to a safe base name; a taken name gets ``-1``, ``-2``….
    Raises ``InputError`` for an image whose data is not valid base64 (images written before it stay).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    urls: list[str] = []
    for image in output.images:
        if image.type == "s3_url":
            urls.append(image.data)
            continue
        payload = image.data.split(",", 1)[1] if image.data.startswith("data:") else image.data
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"RunPod returned an image ({image.filename}) that is not valid base64") from None
        target = _free_name(out_dir, safe_filename(Path(image.filename).name))
        with target.open("xb") as fh:  # "x": fail rather than overwrite if a name race happens
            fh.write(raw)
        files.append(target)
    return files, urls
