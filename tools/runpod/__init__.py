"""RunPod serverless: send an API-format workflow to a worker-comfyui endpoint and fetch the images."""

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
