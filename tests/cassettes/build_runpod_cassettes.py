"""Build the vcrpy cassettes for the RunPod client tests.

Bodies are RunPod's documented examples kept in ``../shared/data/api/runpod`` (``/run`` IN_QUEUE,
``/status`` COMPLETED, ``/health``, ``/cancel``) with worker-comfyui's v5 output shape for the
completed job (``shared/docs/apis.md`` §3.2); error statuses follow §3.1. Requests carry no secrets.

Run: ``python tests/cassettes/build_runpod_cassettes.py [--shared PATH] [--out DIR]`` (rewrites the YAML files here).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from build_cassettes import HERE, builder_main, req, resp, write

BASE = "https://api.runpod.ai/v2/test-endpoint"
# A 1x1 PNG, as worker-comfyui returns images: base64 in output.images[].data.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


def build(shared: Path, out: Path = HERE) -> None:
    """Write the RunPod cassettes into ``out`` from the samples under ``shared``."""
    rp = shared / "runpod"
    queued = json.loads((rp / "docs_run_in_queue.json").read_text(encoding="utf-8"))
    completed = json.loads((rp / "docs_status_completed.json").read_text(encoding="utf-8"))
    job = queued["id"]
    completed["id"] = job
    completed["output"] = {"images": [{"filename": "ComfyUI_00001_.png", "type": "base64", "data": PNG}]}
    in_progress = {"id": job, "status": "IN_PROGRESS", "delayTime": 31618, "workerId": "w-1"}
    post = {"Content-Type": "application/json"}

    write(out, "runpod_run_and_complete", [
        (req("POST", f"{BASE}/run", post), resp(200, "OK", json.dumps(queued))),
        (req("GET", f"{BASE}/status/{job}"), resp(200, "OK", json.dumps(queued))),
        (req("GET", f"{BASE}/status/{job}"), resp(200, "OK", json.dumps(in_progress))),
        (req("GET", f"{BASE}/status/{job}"), resp(200, "OK", json.dumps(completed))),
    ])
    failed = {"id": job, "status": "FAILED", "delayTime": 900, "executionTime": 2100,
              "error": "Workflow validation failed:\n• Node 4 (errors): Value not in list: ckpt_name"}
    write(out, "runpod_failed", [(req("GET", f"{BASE}/status/{job}"), resp(200, "OK", json.dumps(failed)))])
    write(out, "runpod_expired", [(req("GET", f"{BASE}/status/{job}"), resp(404, "Not Found", json.dumps({"error": "job not found"})))])
    write(out, "runpod_rate_limited_then_queued", [
        (req("POST", f"{BASE}/run", post), resp(429, "Too Many Requests", json.dumps({"error": "rate limited"}),
                                                 {"Retry-After": "0"})),
        (req("POST", f"{BASE}/run", post), resp(200, "OK", json.dumps(queued))),
    ])
    write(out, "runpod_unauthorized", [(req("GET", f"{BASE}/health"), resp(401, "Unauthorized", ""))])
    write(out, "runpod_health", [(req("GET", f"{BASE}/health"), resp(200, "OK", (rp / "docs_health.json").read_text(encoding="utf-8")))])
    cancelled = json.loads((rp / "docs_cancel_cancelled.json").read_text(encoding="utf-8"))
    write(out, "runpod_cancel", [(req("POST", f"{BASE}/cancel/{cancelled['id']}", post), resp(200, "OK", json.dumps(cancelled)))])


if __name__ == "__main__":
    builder_main(build, HERE)
