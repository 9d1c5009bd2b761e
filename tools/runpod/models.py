"""Typed RunPod serverless answers and the worker-comfyui request/response contract.

RunPod's own answers (``JobStatus``, ``Health``) allow extra fields, so a new key on RunPod's side does
not break a poll. ``ComfyJobInput``/``ComfyJobOutput`` follow worker-comfyui v5: input images travel
base64-encoded inside the request, outputs come back as base64 or as S3 URLs when the endpoint is
configured with a bucket.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobState = Literal["IN_QUEUE", "IN_PROGRESS", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


class JobStatus(BaseModel):
    """``/run``, ``/status`` and ``/cancel`` answers. Times are milliseconds, as RunPod reports them.

    ``status`` is one of ``JobState`` (kept as ``str`` so an unknown new state does not fail validation);
    ``delay_time_ms`` is time spent queued, ``execution_time_ms`` time on a worker. ``output`` is the
    worker's result (for worker-comfyui, a :class:`ComfyJobOutput` dict) and ``error`` its error, a string
    or a structure.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    delay_time_ms: int | None = Field(None, alias="delayTime")
    execution_time_ms: int | None = Field(None, alias="executionTime")
    output: Any = None
    error: Any = None
    worker_id: str | None = Field(None, alias="workerId")

    @property
    def finished(self) -> bool:
        """The job is in a terminal state (COMPLETED, FAILED, CANCELLED or TIMED_OUT)."""
        return self.status in TERMINAL_STATES


class Health(BaseModel):
    """``/health``: counts per state for ``jobs`` (``inQueue``, ``inProgress``, ``completed``…) and
    ``workers`` (``idle``, ``running``…), keys as RunPod spells them.
    """
    jobs: dict[str, int] = Field(default_factory=dict)
    workers: dict[str, int] = Field(default_factory=dict)


class InputImage(BaseModel):
    """An image uploaded with the job (worker-comfyui puts it in ComfyUI's input folder).

    ``name`` is the file name the workflow's ``LoadImage`` refers to; it has passed ``safe_filename``.
    """

    name: str
    image: str = Field(description="base64, or a data: URL")


class ComfyJobInput(BaseModel):
    """worker-comfyui's ``input``: an API-format workflow and optional input images."""

    workflow: dict[str, Any]
    images: list[InputImage] = Field(default_factory=list)


class OutputImage(BaseModel):
    """One output image: ``filename`` as ComfyUI saved it, ``type`` ``base64`` or ``s3_url``, and ``data`` the
    base64 text (optionally a ``data:`` URL) or the URL.
    """
    filename: str
    type: Literal["base64", "s3_url"] | str
    data: str


class ComfyJobOutput(BaseModel):
    """worker-comfyui v5+ ``output``: the images, error messages from the worker, and its status line."""

    model_config = ConfigDict(extra="allow")

    images: list[OutputImage] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    status: str | None = None
