"""RunPod jobs as approvable files: prepare (free), approve (the user), submit (spends money).

A job file holds the exact request and its content id; ``agent.approval`` tokens bind to it the
same way they bind to fix plans, so a job is sent only as the user approved it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.runpod import RunPodJobRequest


class RunPodJobFile(BaseModel):
    kind: str = "runpod-job"
    plan_id: str
    request: RunPodJobRequest


def content_id(request: RunPodJobRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def save_job(request: RunPodJobRequest, state_dir: Path) -> tuple[Path, RunPodJobFile]:
    """Write the job file (named by its content id) and return it with its in-memory form."""
    job = RunPodJobFile(plan_id=content_id(request), request=request)
    folder = Path(state_dir) / "runpod"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"job-{job.plan_id[:16]}.json"
    if not path.exists():  # same content, same file: never rewritten
        path.write_text(job.model_dump_json(indent=1), encoding="utf-8")
    return path, job


def load_job(path: Path) -> RunPodJobFile:
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
    r = job.request
    return {
        "plan_id": job.plan_id, "endpoint_id": r.endpoint_id, "nodes": len(r.input.workflow),
        "images": [i.name for i in r.input.images], "size_bytes": r.size_bytes,
        "models_needed": r.models_needed, "images_needed": r.images_needed, "warnings": r.warnings,
    }
