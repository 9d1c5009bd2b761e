"""Typed RunPod serverless answers and the worker-comfyui request/response contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobState = Literal["IN_QUEUE", "IN_PROGRESS", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


class JobStatus(BaseModel):
    """``/run``, ``/status`` and ``/cancel`` answers. Times are milliseconds, as RunPod reports them."""

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
        return self.status in TERMINAL_STATES


class Health(BaseModel):
    jobs: dict[str, int] = Field(default_factory=dict)
    workers: dict[str, int] = Field(default_factory=dict)


class InputImage(BaseModel):
    """An image uploaded with the job (worker-comfyui puts it in ComfyUI's input folder)."""

    name: str
    image: str = Field(description="base64, or a data: URL")


class ComfyJobInput(BaseModel):
    """worker-comfyui's ``input``: an API-format workflow and optional input images."""

    workflow: dict[str, Any]
    images: list[InputImage] = Field(default_factory=list)


class OutputImage(BaseModel):
    filename: str
    type: Literal["base64", "s3_url"] | str
    data: str


class ComfyJobOutput(BaseModel):
    """worker-comfyui v5+ ``output``."""

    model_config = ConfigDict(extra="allow")

    images: list[OutputImage] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    status: str | None = None
