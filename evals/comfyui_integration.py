"""Integration test of the node pack against a real ComfyUI (0.3.64 from ``/work/shared/comfyui-src``).

Not part of the fast suite (it needs torch and a ComfyUI install)::

    python -m comfyfixer.evals.comfyui_integration [--scratch DIR] [--runs N] [--json]

Steps: copy ComfyUI to a scratch folder, make a venv there and install ComfyUI's requirements (torch and
torchvision from PyPI: several GB, runs on the CPU) plus this project (editable), link
``comfyfixer_nodes`` into ``custom_nodes``, start ``main.py --cpu`` on a free loopback port with a
loopback RunPod fake configured, then check:

0. in ComfyUI's Python, on its real ``execution`` module: loading the pack (``nodes.load_custom_node``) and a
   prompt that does not ask for capture leave the three executor functions as they were (identity), arming
   replaces them, and uninstalling restores them;
1. the pack loads (no ``IMPORT FAILED`` for it) and both nodes are in ``/object_info``;
2. LoadImage → ImageScale → ComfyFixerSaveImage (capture on): the saved PNG, JPEG and WebP round-trip
   through ``read_image`` (prompt, workflow, capture mode, parameters) and the runtime section shows a
   value only the run knows (the loaded image's real shape, which the prompt gives only as a file name);
3. two prompts queued back to back (different widths) keep their captures apart;
4. LoadImage → ComfyFixerUseRunPod (on) → save: the job reaches the fake and its image is saved;
5. the capture's cost: the graph N times with hooks not installed, then N pairs (hooks installed, prompt
   not asking / capture on) interleaved (executor time from ComfyUI's own ``execution_start`` /
   ``execution_success`` timestamps, whole milliseconds).

Setup is done once per scratch folder (a marker file); later runs only start ComfyUI.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
COMFY_SRC = Path("/work/shared/comfyui-src")
# torch and torchvision are installed first, together; torchaudio (audio nodes only) is left out to keep the
# download smaller (ComfyUI logs its audio nodes as unavailable).
SKIP_REQS = {"torch", "torchvision", "torchaudio"}


def _run(cmd: list[str], **kw: Any) -> None:
    log.info("$ %s", " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def setup(scratch: Path) -> tuple[Path, Path]:
    """(ComfyUI folder, its python) — copied and installed once; ``.setup-done`` marks success."""
    comfy, venv = scratch / "ComfyUI", scratch / "venv"
    python = venv / "bin" / "python"
    if (scratch / ".setup-done").is_file():
        return comfy, python
    scratch.mkdir(parents=True, exist_ok=True)
    if not comfy.is_dir():
        shutil.copytree(COMFY_SRC, comfy, symlinks=True, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(venv)])
    reqs = [line.strip() for line in (comfy / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    keep = [r for r in reqs if r.split("=")[0].split(">")[0].split("<")[0].split("~")[0].strip() not in SKIP_REQS]
    # torch and torchvision from PyPI, together: PyPI's torchvision is built against PyPI's (CUDA-capable,
    # CPU-working, several GB) torch; next to the local +cpu torch wheel its C++ ops fail to load
    # ("operator torchvision::nms does not exist"), and ComfyUI imports torchvision at start-up.
    _run([str(python), "-m", "pip", "install", "-q", "--upgrade", "torch", "torchvision"])
    _run([str(python), "-m", "pip", "install", "-q", *keep, "requests"])
    _run([str(python), "-m", "pip", "install", "-q", "-e", str(REPO)])
    (scratch / ".setup-done").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return comfy, python


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Comfy:
    """A running ComfyUI: start, wait, queue, wait for history, stop."""

    def __init__(self, comfy: Path, python: Path, env: dict[str, str]) -> None:
        from comfyfixer.tools.http import build_client

        self.dir, self.port = comfy, _free_port()
        self.log_path = comfy / "comfyui-integration.log"
        self.proc = subprocess.Popen([str(python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
                                      "--disable-auto-launch"], cwd=comfy, env=env, stdout=self.log_path.open("w"),
                                     stderr=subprocess.STDOUT)
        self.http = build_client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def wait_ready(self, timeout: float = 600) -> None:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if self.http.get("/system_stats").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise TimeoutError("ComfyUI did not answer /system_stats")

    def queue(self, prompt: dict[str, Any], workflow: dict[str, Any]) -> str:
        pid = str(uuid.uuid4())
        resp = self.http.post("/prompt", json={"prompt": prompt, "prompt_id": pid, "client_id": "cf-integration",
                                               "extra_data": {"extra_pnginfo": {"workflow": workflow}}})
        if resp.status_code != 200:
            raise RuntimeError(f"POST /prompt {resp.status_code}: {resp.text[:2000]}")
        return pid

    def history(self, pid: str, timeout: float = 300) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            h = self.http.get(f"/history/{pid}").json()
            if pid in h and h[pid].get("status", {}).get("completed") is not None and (
                    h[pid]["status"].get("status_str") in ("success", "error")):
                return dict(h[pid])
            time.sleep(0.2)
        raise TimeoutError(f"prompt {pid} did not finish")

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


IDENTITY_PROBE = """
import asyncio, sys
sys.argv = ["main.py", "--cpu"]
import comfy.options
comfy.options.enable_args_parsing()  # as main.py does, so --cpu is read
import execution, nodes
from execution import PromptExecutor
def funcs():
    return (execution.get_input_data, execution.execute, PromptExecutor.__dict__["execute_async"])
before = funcs()
ok = asyncio.run(nodes.load_custom_node("custom_nodes/comfyfixer_nodes"))
loaded = funcs()
from comfyfixer.nodes import activation, capture
activation.on_prompt({"prompt": {"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}}}})
after_plain_prompt = funcs()
armed = activation.arm(execution)
patched = funcs()
restored = capture.uninstall()
final = funcs()
print(ok and all(a is b for a, b in zip(before, loaded)) and all(a is b for a, b in zip(before, after_plain_prompt))
      and armed and all(a is not b for a, b in zip(before, patched)) and restored
      and all(a is b for a, b in zip(before, final)))
"""


def identity_probe(comfy: Path, python: Path) -> bool:
    """In ComfyUI's own Python, on its real ``execution`` module: loading the pack and a prompt that does
    not ask for capture patch nothing; arming patches all three; uninstall restores them by identity."""
    out = subprocess.run([str(python), "-c", IDENTITY_PROBE], cwd=comfy, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        log.warning("identity probe failed: %s", out.stderr[-2000:])
    return out.stdout.strip().splitlines()[-1:] == ["True"]


def _graph(width: int, prefix: str, fmt: str = "png", capture: bool = True) -> dict[str, Any]:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "cf_integration.png"}},
        "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                                                      "width": width, "height": 24, "crop": "disabled"}},
        "3": {"class_type": "ComfyFixerSaveImage", "inputs": {"images": ["2", 0], "filename_prefix": prefix,
                                                              "format": fmt, "capture": capture}},
    }


def _workflow(prompt: dict[str, Any]) -> dict[str, Any]:
    """A small UI-format workflow naming the same nodes (what the frontend would put in extra_pnginfo)."""
    nodes = [{"id": int(nid), "type": n["class_type"], "pos": [0, 0], "size": [200, 100], "flags": {}, "order": i,
              "mode": 0, "inputs": [], "outputs": [], "properties": {}, "widgets_values": []}
             for i, (nid, n) in enumerate(prompt.items())]
    return {"id": str(uuid.uuid4()), "revision": 0, "last_node_id": len(nodes), "last_link_id": 0, "nodes": nodes,
            "links": [], "groups": [], "config": {}, "extra": {}, "version": 0.4}


def _saved(comfy: Comfy, hist: dict[str, Any], node: str = "3") -> Path:
    img = hist["outputs"][node]["images"][0]
    return comfy.dir / "output" / img.get("subfolder", "") / img["filename"]


def _exec_ms(hist: dict[str, Any]) -> float:
    ts = {event: data.get("timestamp") for event, data in hist["status"]["messages"]}
    return float(ts["execution_success"] - ts["execution_start"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/comfyfixer-integration"))
    ap.add_argument("--runs", type=int, default=10, help="prompts per mode for the cost measurement")
    ap.add_argument("--setup-only", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    comfy_dir, python = setup(args.scratch)
    if args.setup_only:
        return 0
    from PIL import Image

    from comfyfixer.evals.fakes.runpod_server import RunPodServer
    from comfyfixer.tools.imagemeta.reader import read_image

    link = comfy_dir / "custom_nodes" / "comfyfixer_nodes"
    if not link.exists():
        link.symlink_to(REPO / "comfyfixer_nodes", target_is_directory=True)
    (comfy_dir / "input").mkdir(exist_ok=True)
    Image.new("RGB", (48, 40), (200, 30, 30)).save(comfy_dir / "input" / "cf_integration.png")
    results: dict[str, Any] = {"checks": {}}
    checks = results["checks"]
    checks["identity_real_execution"] = identity_probe(comfy_dir, python)
    with RunPodServer() as rp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMFYFIXER_")}
        env.update({"COMFYFIXER_RUNPOD_ENDPOINT_ID": rp.endpoint, "RUNPOD_API_KEY": rp.api_key,
                    "COMFYFIXER_RUNPOD_BASE_URL": rp.base_url, "COMFYFIXER_STATE_DIR": str(args.scratch / "state")})
        t0 = time.monotonic()
        comfy = Comfy(comfy_dir, python, env)
        try:
            comfy.wait_ready()
            results["startup_s"] = round(time.monotonic() - t0, 1)
            logtext = comfy.log_path.read_text(errors="replace")
            checks["pack_loaded"] = "comfyfixer_nodes" in logtext and not any(
                "IMPORT FAILED" in line and "comfyfixer_nodes" in line for line in logtext.splitlines())
            info = comfy.http.get("/object_info").json()
            checks["nodes_in_object_info"] = all(
                info.get(c, {}).get("python_module") == "custom_nodes.comfyfixer_nodes"
                for c in ("ComfyFixerSaveImage", "ComfyFixerUseRunPod"))

            # 5a. cost with hooks not installed (nothing asked for capture yet).
            off = []
            for i in range(args.runs):
                g = _graph(40 + i, f"off_{i}", capture=False)
                off.append(_exec_ms(comfy.history(comfy.queue(g, _workflow(g)))))
            checks["hooks_not_installed_before_capture"] = "runtime capture installed" not in comfy.log_path.read_text()

            # 2. round trip per container, with capture.
            for width, fmt in ((32, "png"), (34, "jpeg"), (36, "webp")):
                g = _graph(width, f"rt_{fmt}", fmt)
                wf = _workflow(g)
                pid = comfy.queue(g, wf)
                hist = comfy.history(pid)
                meta = read_image(_saved(comfy, hist))
                doc = meta.extra.get("comfyfixer", {})
                rt = doc.get("runtime") or {}
                # ComfyUI itself adds "is_changed" (the file hash LoadImage's IS_CHANGED gave) to the prompt
                # every node receives; SaveImage embeds it too. Everything else must be as submitted.
                seen = {k: {kk: vv for kk, vv in v.items() if kk != "is_changed"}
                        for k, v in (meta.prompt_graph or {}).items()}
                checks[f"roundtrip_{fmt}"] = (seen == g and meta.workflow == wf
                                              and doc.get("capture_mode") == "parser+hooks"
                                              and rt.get("prompt_id") == pid
                                              # LoadImage of the same file is cached from the runs before
                                              and rt.get("execution_order") == ["2", "3"]
                                              and rt.get("cached_nodes") == ["1"]
                                              and rt["nodes"]["1"]["source"] in ("parser", "previous_run")
                                              and f"Size: {width}x24" in doc.get("parameters", ""))
                # Only the run knows the loaded image's size: the prompt says "cf_integration.png".
                shape = rt.get("nodes", {}).get("2", {}).get("inputs", {}).get("image", {}).get("shape")
                checks[f"runtime_only_value_{fmt}"] = shape == [1, 40, 48, 3]
                checks[f"merged_source_{fmt}"] = doc.get("merged", {}).get("2", {}).get("inputs", {}).get(
                    "image", {}).get("source") == "runtime"
            checks["hooks_installed_on_request"] = "runtime capture installed" in comfy.log_path.read_text()

            # 3. two prompts at once.
            ga, gb = _graph(20, "two_a"), _graph(28, "two_b")
            pa, pb = comfy.queue(ga, _workflow(ga)), comfy.queue(gb, _workflow(gb))
            da = read_image(_saved(comfy, comfy.history(pa))).extra["comfyfixer"]["runtime"]
            db = read_image(_saved(comfy, comfy.history(pb))).extra["comfyfixer"]["runtime"]
            checks["two_prompts_apart"] = (da["prompt_id"] == pa and db["prompt_id"] == pb
                                           and da["nodes"]["3"]["inputs"]["images"]["shape"] == [1, 24, 20, 3]
                                           and db["nodes"]["3"]["inputs"]["images"]["shape"] == [1, 24, 28, 3])

            # 5b. cost with the hooks in place: prompts not asking (pass-through) and asking, interleaved so
            # drift on a shared machine hits both alike.
            on, passthrough = [], []
            for i in range(args.runs):
                g = _graph(60 + i, f"pass_{i}", capture=False)
                passthrough.append(_exec_ms(comfy.history(comfy.queue(g, _workflow(g)))))
                g = _graph(60 + i, f"on_{i}")
                on.append(_exec_ms(comfy.history(comfy.queue(g, _workflow(g)))))
            results["cost_ms"] = {"hooks_off_median": statistics.median(off),
                                  "installed_not_asked_median": statistics.median(passthrough),
                                  "hooks_on_median": statistics.median(on), "off": off, "passthrough": passthrough,
                                  "on": on}

            # 4. Use RunPod against the loopback fake.
            g = {"1": {"class_type": "LoadImage", "inputs": {"image": "cf_integration.png"}},
                 "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "nearest-exact",
                                                              "width": 36, "height": 20, "crop": "disabled"}},
                 "3": {"class_type": "ComfyFixerUseRunPod", "inputs": {"images": ["2", 0], "use_runpod": True}},
                 "4": {"class_type": "ComfyFixerSaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "runpod",
                                                                       "format": "png", "capture": True}}}
            hist = comfy.history(comfy.queue(g, _workflow(g)))
            ok = hist["status"]["status_str"] == "success"
            pixel, size = None, None
            if ok:
                with Image.open(_saved(comfy, hist, "4")) as im:
                    pixel, size = im.convert("RGB").getpixel((0, 0)), im.size
            first: dict[str, Any] = next(iter(rp.jobs.values()), {})
            sent: dict[str, Any] = first.get("input", {})
            checks["runpod_roundtrip"] = (ok and pixel == rp.color and size == (36, 20)
                                          and set(sent.get("workflow", {})) == {"1", "2", "comfyfixer_runpod_save"}
                                          and [i["name"] for i in sent.get("images", [])] == ["cf_integration.png"])
            if not ok:
                results["runpod_error"] = hist["status"]["messages"][-1]
        finally:
            comfy.stop()
    results["passed"] = all(checks.values())
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for name, ok in checks.items():
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
        if "cost_ms" in results:
            c = results["cost_ms"]
            print(f"executor time per prompt, median of {args.runs}: hooks not installed {c['hooks_off_median']:.1f} ms, "
                  f"installed but not asked {c['installed_not_asked_median']:.1f} ms, "
                  f"capture on {c['hooks_on_median']:.1f} ms")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
