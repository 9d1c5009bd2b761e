"""RunPod serverless: send an API-format workflow to a worker-comfyui endpoint and fetch the images.

Two halves with a money boundary between them. ``submit.py`` prepares a job from a workflow with no
network access (``build_job_request``, used by ``agent/runpod_jobs.py``'s ``prepare_runpod_job``) and
saves what a finished job returns. ``client.py`` talks to RunPod and is used only by the ``runpod``
commands after the user approved the job file; no capability the assistant can call reaches it.
The target is the worker-comfyui image (v5+ input and output contract, see ``models.py``).
"""

from comfyfixer.tools.runpod.client import DEFAULT_BASE_URL, JobFailed, RunPodClient
from comfyfixer.tools.runpod.models import ComfyJobInput, ComfyJobOutput, Health, JobStatus, OutputImage
from comfyfixer.tools.runpod.submit import (
    RunPodJobRequest,
    RunPodPrepareInput,
    build_job_request,
    save_outputs,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "ComfyJobInput",
    "ComfyJobOutput",
    "Health",
    "JobFailed",
    "JobStatus",
    "OutputImage",
    "RunPodClient",
    "RunPodJobRequest",
    "RunPodPrepareInput",
    "build_job_request",
    "save_outputs",
]
