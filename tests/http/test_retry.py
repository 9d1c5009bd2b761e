"""send_with_retry: which transport failures are retried."""

from __future__ import annotations

import socket

import httpx
import pytest

from comfyfixer.tools.errors import TransportError
from comfyfixer.tools.http import RetryPolicy, send_with_retry


def _client(cause: BaseException | None, attempts: list[int]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.ConnectError("connect failed", request=request) from cause

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_a_host_name_that_does_not_resolve_is_not_retried() -> None:
    """No DNS answer (offline, or a mistyped host): one attempt, and the error says what happened."""
    attempts: list[int] = []
    with _client(socket.gaierror(-2, "Name or service not known"), attempts) as client, \
            pytest.raises(TransportError) as failed:
        send_with_retry(client, "GET", "https://civitai.example/api", policy=RetryPolicy(retries=3, base=0, cap=0))
    assert len(attempts) == 1
    assert "did not resolve" in str(failed.value) and "COMFYFIXER_OFFLINE" in str(failed.value)


def test_another_connect_failure_is_retried() -> None:
    attempts: list[int] = []
    with _client(ConnectionRefusedError(111, "refused"), attempts) as client, pytest.raises(TransportError) as failed:
        send_with_retry(client, "GET", "https://civitai.example/api", policy=RetryPolicy(retries=3, base=0, cap=0))
    assert len(attempts) == 4
    assert "ConnectError" in str(failed.value)
