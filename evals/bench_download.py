"""Benchmark: the download engine against ``curl`` on the same loopback server, and resume after ``kill -9``.

Run: ``python -m comfyfixer.evals.bench_download [--size-mb 1024] [--repeat 3]``.

* Storage: the scratch folder defaults to tmpfs (``/dev/shm``) so both tools are measured on
  the network and CPU path, not on a shared disk's writeback (pass ``--workdir`` to use a disk).
* Throughput: a generated file (default 1 GiB, a valid safetensors) is served by the loopback
  file server (``sendfile``); ``curl -o`` and the engine (streaming to ``.part``, sha256 verified
  against the expected hash, safetensors header checked, hard-linked into place) fetch it
  alternately; medians are compared. Target: the engine at ≥ 90 % of curl. The engine hashes while
  it downloads (sha256 cannot be split across cores), so when curl outruns one core's sha256 the
  ceiling is ``sha256 rate / curl rate``; both are reported.
* Resume: a child process downloads the same file and is killed with SIGKILL part-way; a second
  run resumes it. "Re-downloaded" is what the server sent in the second run minus what was
  missing after the kill (≈ 0 means nothing already on disk was fetched again).

* ``--link-mbps N`` serves at N MB/s, as a real link would: a remote server costs no local CPU,
  while on loopback the server, the reader, the writer and the hash share the machine's cores.

Prints one JSON document (and writes it to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import Downloader, DownloadRequest, HostPolicy
from comfyfixer.tools.http import RetryPolicy

NAME = "bench_model.safetensors"


def _request(comfy: Path, url: str, sha256: str | None, size: int | None) -> DownloadRequest:
    return DownloadRequest(
        url=url, target=comfy / "models" / "checkpoints" / NAME, allowed_roots=[comfy],
        staging_dir=comfy / ".comfyfixer" / "staging", quarantine_dir=comfy / ".comfyfixer" / "quarantine",
        expected_sha256=sha256, expected_size=size, label=NAME,
    )


def _policy() -> HostPolicy:
    return HostPolicy.build(["127.0.0.1", "localhost"])


def _fresh(comfy: Path) -> None:
    shutil.rmtree(comfy, ignore_errors=True)
    (comfy / "models" / "checkpoints").mkdir(parents=True)


def _drop_page_cache_hint(path: Path) -> None:
    # Written files stay dirty in the page cache; flushing between runs keeps one run's writeback
    # from slowing down the next one (same treatment for curl and the engine).
    os.sync()


def run_curl(url: str, out: Path) -> float:
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", str(out), url], check=True)
    return time.perf_counter() - t


def run_curl_verified(url: str, out: Path, sha256: str) -> float:
    """The manual equivalent of a verified download: curl, then sha256sum."""
    out.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run(["curl", "-sS", "--fail", "-o", str(out), url], check=True)
    digest = subprocess.run(["sha256sum", str(out)], capture_output=True, text=True, check=True).stdout.split()[0]
    elapsed = time.perf_counter() - t
    if digest != sha256:
        raise SystemExit("curl download did not verify")
    return elapsed


def sha256_speed(seconds: float = 1.0) -> float:
    """This CPU's single-thread sha256 rate (MB/s): the ceiling of any verified download."""
    import hashlib

    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    n = 0
    t = time.perf_counter()
    while time.perf_counter() - t < seconds:
        h.update(block)
        n += 1
    return n * len(block) / (time.perf_counter() - t) / 1e6


def run_engine(url: str, comfy: Path, sha256: str, size: int) -> float:
    _fresh(comfy)
    with Downloader(_policy(), retry=RetryPolicy(retries=2, base=0.1)) as dl:
        t = time.perf_counter()
        res = dl.download(_request(comfy, url, sha256, size))
        elapsed = time.perf_counter() - t
    if res.sha256 != sha256 or res.sha256_checked_against != "plan":
        raise SystemExit("engine download did not verify")
    return elapsed


def child(url: str, comfy: str, sha256: str, size: int) -> None:
    """Entry point of the process that gets killed."""
    with Downloader(_policy()) as dl:
        dl.download(_request(Path(comfy), url, sha256, size))


def measure_resume(server: FileServer, url: str, comfy: Path, sha256: str, size: int, kill_at: float) -> dict[str, Any]:
    _fresh(comfy)
    staging = comfy / ".comfyfixer" / "staging"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from comfyfixer.evals.bench_download import child; "
         "child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))", url, str(comfy), sha256, str(size)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        parts = list(staging.glob("*.part")) if staging.exists() else []
        if parts and parts[0].stat().st_size >= kill_at * size:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    parts = list(staging.glob("*.part"))
    have = parts[0].stat().st_size if parts else 0
    in_models = [p.name for p in (comfy / "models").rglob("*") if p.is_file()]
    server.reset_records()
    t = time.perf_counter()
    with Downloader(_policy()) as dl:
        res = dl.download(_request(comfy, url, sha256, size))
    elapsed = time.perf_counter() - t
    sent = server.bytes_sent(NAME)
    return {
        "killed_at_bytes": have,
        "model_folder_files_after_kill": in_models,
        "resumed_from": res.resumed_from,
        "bytes_sent_after_restart": sent,
        "bytes_missing_after_kill": size - have,
        "bytes_redownloaded": sent - (size - have),
        "resume_seconds": round(elapsed, 3),
        "verified": res.sha256 == sha256,
    }


def _scratch(size: int) -> str | None:
    """tmpfs when it has room: on a shared machine, disk writeback of other jobs swamps the comparison."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 4 * size:
        return str(shm)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kill-at", type=float, default=0.5, help="Fraction downloaded before the kill.")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="Scratch folder (default: a temporary folder on /dev/shm if it has room, else $TMPDIR).")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--link-mbps", type=int, default=None,
                        help="Serve at this many MB/s, like a real link (default: as fast as loopback allows).")
    args = parser.parse_args(argv)
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed as the peer")
    size = args.size_mb * 1024 * 1024
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-download-", dir=_scratch(size)))
    comfy = work / "ComfyUI"
    curl_out = work / "curl.out"
    with FileServer(work / "served") as server:
        served = server.add_file(NAME, size)
        if args.link_mbps:
            # A remote server costs no local CPU; on loopback the server shares our 2 cores, so an
            # unlimited run measures CPU contention as much as the download path.
            served.rate = args.link_mbps * 1_000_000
        url = server.direct_url(NAME)
        curl_times: list[float] = []
        verified_times: list[float] = []
        engine_times: list[float] = []
        for i in range(args.repeat):
            # alternate which one goes first, so neither always runs on the heels of the other's writeback
            runs = [("curl", lambda: run_curl(url, curl_out)),
                    ("engine", lambda: run_engine(url, comfy, served.sha256, size))]
            for name, fn in runs if i % 2 == 0 else runs[::-1]:
                _fresh(comfy)
                curl_out.unlink(missing_ok=True)
                _drop_page_cache_hint(work)
                (curl_times if name == "curl" else engine_times).append(fn())
        for _ in range(args.repeat if shutil.which("sha256sum") else 0):
            curl_out.unlink(missing_ok=True)
            _drop_page_cache_hint(work)
            verified_times.append(run_curl_verified(url, curl_out, served.sha256))
        _fresh(comfy)
        curl_out.unlink(missing_ok=True)
        _drop_page_cache_hint(work)
        resume = measure_resume(server, url, comfy, served.sha256, size, args.kill_at)
    sha_mbps = sha256_speed()
    curl_mbps = size / statistics.median(curl_times) / 1e6
    engine_mbps = size / statistics.median(engine_times) / 1e6
    result = {
        "benchmark": "download",
        "peer": "curl " + subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1],
        "size_bytes": size,
        "link_limit_MBps": args.link_mbps,
        "repeat": args.repeat,
        "curl_seconds": [round(t, 3) for t in curl_times],
        "engine_seconds": [round(t, 3) for t in engine_times],
        "curl_MBps_median": round(curl_mbps, 1),
        "engine_MBps_median": round(engine_mbps, 1),
        "ratio_engine_vs_curl": round(engine_mbps / curl_mbps, 3),
        "sha256_MBps_this_cpu": round(sha_mbps, 1),
        "ceiling_ratio_with_inline_sha256": round(min(1.0, sha_mbps / curl_mbps), 3),
        "curl_then_sha256sum_seconds": [round(t, 3) for t in verified_times],
        "ratio_engine_vs_curl_then_sha256sum": (
            round(statistics.median(verified_times) / statistics.median(engine_times), 3) if verified_times else None),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "engine_does_more": "sha256 + safetensors header check + hard-link into place",
        "resume_after_kill": resume,
        "cpus": os.cpu_count(),
        "workdir": str(work),
    }
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    print(f"engine {engine_mbps:.0f} MB/s vs curl {curl_mbps:.0f} MB/s: ratio {engine_mbps / curl_mbps:.2f}; "
          f"re-downloaded after kill: {resume['bytes_redownloaded']} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
