"""A loopback RunPod serverless endpoint speaking the worker-comfyui contract.

``POST /v2/<endpoint>/run`` queues a job (the body is kept in ``jobs``), ``GET /v2/<endpoint>/status/<id>``
answers ``IN_QUEUE`` then ``IN_PROGRESS`` then ``COMPLETED`` with one generated PNG per ``SaveImage``
node of the submitted workflow (solid ``color``, the ``width``/``height`` of an ``ImageScale`` in the
workflow if there is one, else 16x16). Requests without ``Authorization: Bearer <api_key>`` get 401.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from comfyfixer.evals.fakes.loopback import LoopbackServer, QuietHandler


def _png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


class RunPodServer(LoopbackServer):
    """The fake endpoint; ``base_url`` is what ``COMFYFIXER_RUNPOD_BASE_URL`` should be set to."""

    thread_name = "fake-runpod"

    def __init__(self, *, api_key: str = "rp-fake-key", endpoint: str = "fake-endpoint",
                 color: tuple[int, int, int] = (0, 128, 255)) -> None:
        super().__init__()
        self.api_key, self.endpoint, self.color = api_key, endpoint, color
        self.jobs: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return self.url + "/v2"

    def _output(self, body: dict[str, Any]) -> dict[str, Any]:
        workflow = body.get("input", {}).get("workflow", {})
        size = (16, 16)
        for node in workflow.values():
            if node.get("class_type") == "ImageScale":
                size = (int(node["inputs"].get("width", 16)), int(node["inputs"].get("height", 16)))
        saves = [nid for nid, n in workflow.items() if n.get("class_type") == "SaveImage"] or ["none"]
        return {"images": [{"filename": f"ComfyUI_{i:05}_.png", "type": "base64",
                            "data": base64.b64encode(_png(*size, self.color)).decode()} for i, _ in enumerate(saves, 1)]}

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self.send_json(401, {"error": "Unauthorized"})
                    return False
                return True

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path != f"/v2/{server.endpoint}/run":
                    self.send_json(404, {"error": "not found"})
                    return
                job = str(uuid.uuid4())
                with server.lock:
                    server.jobs[job] = body
                    server.polls[job] = 0
                self.send_json(200, {"id": job, "status": "IN_QUEUE"})

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                prefix = f"/v2/{server.endpoint}/status/"
                job = self.path[len(prefix):] if self.path.startswith(prefix) else ""
                if job not in server.jobs:
                    self.send_json(404, {"error": "job not found"})
                    return
                with server.lock:
                    server.polls[job] += 1
                    n = server.polls[job]
                if n == 1:
                    self.send_json(200, {"id": job, "status": "IN_PROGRESS"})
                    return
                self.send_json(200, {"id": job, "status": "COMPLETED", "delayTime": 5, "executionTime": 20,
                                     "output": server._output(server.jobs[job])})

        return Handler
