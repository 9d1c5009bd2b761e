"""RunPod serverless client (queue endpoints) on httpx.

Why not the ``runpod`` SDK: it pulls in the whole worker stack, retries only on ``http://``
mounts, and polls at a fixed 1 s. This client sends ``Authorization: Bearer`` to RunPod's host
only, polls ``/status`` with capped exponential backoff, retries 429 (the request was not
accepted, so resubmitting cannot start a second job) and maps every end state to a typed error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from comfyfixer.tools.errors import AuthRequired, HTTPError, NotFound, UpstreamError
from comfyfixer.tools.http import (
    RetryPolicy,
    ServiceClient,
    build_client,
    parse_retry_after,
    raise_for_status,
    send_with_retry,
)
from comfyfixer.tools.runpod.models import Health, JobStatus

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.runpod.ai/v2"
MAX_RUN_PAYLOAD = 10 * 1024 * 1024  # /run rejects bodies over 10 MB


class JobFailed(UpstreamError):
    """The job ended FAILED, CANCELLED or TIMED_OUT, or :meth:`RunPodClient.wait` ran past its deadline;
    ``job`` holds RunPod's last answer (its ``status`` says which).
    """

    def __init__(self, message: str, *, job: JobStatus, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.job = job


class RunPodClient(ServiceClient):
    """One serverless endpoint: submit, poll, cancel, health.

    ``endpoint_id`` must be one path segment (``ValueError`` otherwise, so it cannot redirect the URL). The
    API key is bound to the base URL's origin; without one every call raises ``AuthRequired`` before any
    request. ``sleep`` is injected so tests of polling and 429 back-off run instantly; ``transport`` lets
    them replay answers.
    """

    def __init__(
        self,
        endpoint_id: str,
        api_key: str | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not endpoint_id or "/" in endpoint_id:
            raise ValueError("a RunPod endpoint id is a single path segment")
        base = f"{base_url.rstrip('/')}/{endpoint_id}"
        self._http = build_client(base_url=base, timeout=timeout, token=api_key, transport=transport)
        self._policy = RetryPolicy(retries=retries, sleep=sleep)
        self._has_key = bool(api_key)
        self._sleep = sleep


    def _call(self, method: str, path: str, *, idempotent: bool, **kw: Any) -> Any:
        """One API call with the shared retry policy; a non-idempotent call is additionally resent only after
        a 429 (RunPod refused it, so no job was created). Returns the JSON body.
        """
        if not self._has_key:
            raise AuthRequired("RunPod needs an API key", hint="set RUNPOD_API_KEY")
        for attempt in range(self._policy.retries + 1):
            resp = send_with_retry(self._http, method, path, policy=self._policy, idempotent=idempotent, **kw)
            # A 429 means RunPod refused the request, so even a POST can be sent again safely;
            # a transport error after sending might have created a job, so that is never retried.
            if idempotent or resp.status_code != 429 or attempt == self._policy.retries:
                break
            self._sleep(self._policy.delay(attempt, parse_retry_after(resp.headers.get("Retry-After"))))
        raise_for_status(resp, service="RunPod")
        try:
            return resp.json()
        except ValueError:
            raise UpstreamError("RunPod answered with something that is not JSON", url=str(resp.url),
                                status=resp.status_code) from None

    def run(self, job_input: dict[str, Any], *, execution_timeout_ms: int | None = None) -> JobStatus:
        """Queue a job (``POST /run``). Not retried except on 429, so a job is never started twice.

        ``execution_timeout_ms`` becomes RunPod's ``policy.executionTimeout``. Raises ``HTTPError`` before
        sending when the body is over 10 MB (RunPod would refuse it). Returns the queued job (``IN_QUEUE``).
        """
        body: dict[str, Any] = {"input": job_input}
        if execution_timeout_ms is not None:
            body["policy"] = {"executionTimeout": execution_timeout_ms}
        import json

        size = len(json.dumps(body))
        if size > MAX_RUN_PAYLOAD:
            raise HTTPError(f"the job is {size / 1e6:.1f} MB; RunPod's /run takes at most 10 MB",
                            hint="send fewer or smaller input images")
        return JobStatus.model_validate(self._call("POST", "/run", idempotent=False, json=body))

    def status(self, job_id: str) -> JobStatus:
        """``GET /status/{id}``. Raises ``NotFound`` for an unknown id or once RunPod has dropped the result
        (it keeps results for about 30 minutes after the job ends).
        """
        try:
            return JobStatus.model_validate(self._call("GET", f"/status/{job_id}", idempotent=True))
        except NotFound as exc:
            raise NotFound(f"RunPod job {job_id} is unknown or expired (results are kept 30 minutes)",
                           url=exc.url, status=404) from None

    def cancel(self, job_id: str) -> JobStatus:
        """``POST /cancel/{id}``: ask RunPod to stop a queued or running job; returns its status after the
        request.
        """
        return JobStatus.model_validate(self._call("POST", f"/cancel/{job_id}", idempotent=False))

    def health(self) -> Health:
        """``GET /health``: job counts by state and worker counts by state for the endpoint."""
        return Health.model_validate(self._call("GET", "/health", idempotent=True))

    def wait(
        self,
        job_id: str,
        *,
        deadline_s: float = 900.0,
        on_update: Callable[[JobStatus], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> JobStatus:
        """Poll ``/status`` (1 s, doubling to 10 s) until the job ends; raise ``JobFailed`` unless COMPLETED.

        ``deadline_s`` bounds the waiting, not the job: on timeout the job keeps running (and costing) on
        RunPod, and the error says how to cancel it. ``on_update`` sees every status answered.
        """
        start = clock()
        delay = 1.0
        while True:
            job = self.status(job_id)
            if on_update is not None:
                on_update(job)
            if job.finished:
                if job.status != "COMPLETED":
                    detail = job.error if isinstance(job.error, str) else repr(job.error)
                    raise JobFailed(f"RunPod job {job_id} ended {job.status}: {detail}", job=job)
                return job
            if clock() - start + delay > deadline_s:
                raise JobFailed(
                    f"RunPod job {job_id} still {job.status} after {deadline_s:.0f} s; it keeps running "
                    f"(cancel it with `comfyfixer runpod cancel {job_id}`)", job=job)
            self._sleep(delay)
            delay = min(delay * 2, 10.0)
