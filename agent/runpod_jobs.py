"""RunPod jobs as approvable files: prepare (free), approve (the user), submit (spends money).

A job file holds the exact request and its content id; ``agent.approval`` tokens bind to it the
same way they bind to fix plans, so a job is sent only as the user approved it.

:func:`prepare_runpod_job` is the capability both the CLI (``runpod prepare``) and the assistant use;
it builds the request with ``tools/runpod`` and saves it under ``<state_dir>/runpod/``. The
``runpod approve`` and ``runpod submit`` commands (``agent/commands/runpod.py``) load it back with
:func:`load_job`. The assistant can prepare a job but never submit one: no capability here sends
anything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import InputError
from comfyfixer.tools.paths import atomic_write
from comfyfixer.tools.runpod import RunPodJobRequest, RunPodPrepareInput, build_job_request
from comfyfixer.tools.toolset import capability


class RunPodJobFile(BaseModel):
    """The saved job: ``kind`` is always ``"runpod-job"``, ``plan_id`` is :func:`content_id` of ``request``
    (named like a fix plan's id so the approval code treats both alike) and ``request`` is the exact
    body that submitting will send.
    """
    kind: str = "runpod-job"
    plan_id: str
    request: RunPodJobRequest


def content_id(request: RunPodJobRequest) -> str:
    """sha256 (hex) of the request as canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def save_job(request: RunPodJobRequest, state_dir: Path) -> tuple[Path, RunPodJobFile]:
    """Write the job file (named by its content id) and return it with its in-memory form.

    The file is ``<state_dir>/runpod/job-<first 16 hex of the id>.json``. Preparing the same request twice
    finds the existing file and leaves it untouched, so an approval already issued for it stays valid.
    """
    job = RunPodJobFile(plan_id=content_id(request), request=request)
    folder = Path(state_dir) / "runpod"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"job-{job.plan_id[:16]}.json"
    if not path.exists():  # same content, same file: never rewritten
        atomic_write(path, job.model_dump_json(indent=1))
    return path, job


def load_job(path: Path) -> RunPodJobFile:
    """Read a job file and check that its request still hashes to its id.

    Raises ``InputError`` when the file is missing, is not a job file (first line of the validation error),
    or its request was changed after it was prepared.
    """
    try:
        job = RunPodJobFile.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such RunPod job file") from None
    except ValueError as exc:
        raise InputError(f"{path}: not a RunPod job file ({str(exc).splitlines()[0]})") from None
    if content_id(job.request) != job.plan_id:
        raise InputError(f"{path}: the job's content does not match its id; prepare it again")
    return job


def summary(job: RunPodJobFile) -> dict[str, Any]:
    """The job's headline facts as a dict: id, endpoint, node count, attached image names, request size in
    bytes, models and images the worker must already have, and warnings. Keys match :class:`RunPodPrepared`.
    """
    r = job.request
    return {
        "plan_id": job.plan_id, "endpoint_id": r.endpoint_id, "nodes": len(r.input.workflow),
        "images": [i.name for i in r.input.images], "size_bytes": r.size_bytes,
        "models_needed": r.models_needed, "images_needed": r.images_needed, "warnings": r.warnings,
    }


class RunPodPrepared(BaseModel):
    """A saved RunPod job file, summarised. Nothing was sent and nothing was spent."""

    job_file: str = Field(description="Where the job was saved; the user approves this file.")
    plan_id: str = Field(description="The job's content id.")
    endpoint_id: str = Field(description="The endpoint the job is for.")
    nodes: int = Field(description="Nodes in the API-format workflow.")
    images: list[str] = Field(default_factory=list, description="Input images attached to the job.")
    size_bytes: int = Field(description="Request size (RunPod accepts at most 10 MB).")
    models_needed: list[str] = Field(description="Model files the endpoint's workers must already have.")
    images_needed: list[str] = Field(description="Images the workflow loads by name.")
    warnings: list[str] = Field(default_factory=list, description="What may fail on the worker.")
    next_step: str = Field(description="What the user does to approve and submit the job.")


@capability(command="runpod prepare")
def prepare_runpod_job(inp: RunPodPrepareInput, ctx: ToolContext) -> RunPodPrepared:
    """Prepare a workflow to run on the user's RunPod serverless GPU endpoint (worker-comfyui): converts
    it to API format, attaches input images, checks the 10 MB limit and lists the models the workers
    must have. Saves a job file and SENDS NOTHING: submitting costs money and only the user can
    approve and submit it."""
    request = build_job_request(inp.model_copy(update={"endpoint_id": inp.endpoint_id or ctx.runpod_endpoint_id}),
                                schemas=ctx.schemas())
    path, job = save_job(request, ctx.state_dir)
    step = (f"Submitting costs money: the user approves with `comfyfixer runpod approve {path}` and sends it "
            f"with `comfyfixer runpod submit {path} --token …`. You cannot submit it.")
    return RunPodPrepared(job_file=str(path), **summary(job), next_step=step)
