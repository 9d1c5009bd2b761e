"""Size, pace and disk limits of the download engine against a hostile loopback server."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from dlkit import KB, MB, ShrinkingDisk, downloader, model_files, quarantined, request, staged

from comfyfixer.evals.fakes.hostile_server import HostileServer
from comfyfixer.tools.download import DownloadRequest, human_bytes, rounded_size_tolerance, size_bounds
from comfyfixer.tools.errors import DiskFull, DownloadStalled, IntegrityError, TransportError

# --- pace -------------------------------------------------------------------------------------------


def test_a_trickling_server_stalls_and_the_bytes_received_are_resumed(hostile: HostileServer, comfy: Path) -> None:
    """One byte every 50 ms never trips a per-read timeout; the rate rule ends it and keeps the partial."""
    f = hostile.add("trickle.safetensors", 3 * MB, seed=1, fast_bytes=900 * KB, trickle_interval=0.05,
                    trickle_times=1)
    req = request(comfy, hostile.file_url(f.name), f.name, expected_sha256=f.sha256)
    began = time.monotonic()
    with downloader(min_rate=16 * KB, stall_window=0.5) as dl, pytest.raises(DownloadStalled) as info:
        dl.download(req)
    assert time.monotonic() - began < 5
    assert isinstance(info.value, TransportError)
    assert "slower than 16.0 KB/s" in str(info.value) and "resumes at" in (info.value.hint or "")
    [part] = staged(comfy)
    time.sleep(0.2)  # let the server thread count its last write (it may land after the client read it)
    sent = hostile.bytes_sent(f.name)
    assert sent - 64 <= part.stat().st_size <= sent  # every byte that arrived was kept (not ~0.9 MB thrown away)
    assert part.stat().st_size >= 900 * KB
    kept = part.stat().st_size
    with downloader() as dl:
        res = dl.download(req)
    assert res.resumed_from == kept and res.sha256 == f.sha256
    second = hostile.records(f.name)[-1]
    assert second.range == f"bytes={kept}-" and second.bytes_sent == f.size - kept
    assert model_files(comfy) == ["models/checkpoints/trickle.safetensors"]


def test_a_download_past_its_deadline_ends_even_when_never_stalling(hostile: HostileServer, comfy: Path) -> None:
    """32 KB every 0.1 s is above the stall floor in every window but cannot finish 1 MB by its deadline."""
    f = hostile.add("slow.safetensors", MB, seed=2, trickle_chunk=32 * KB, trickle_interval=0.1, trickle_times=1)
    began = time.monotonic()
    with downloader(min_rate=MB, stall_window=60, deadline_slack=0.3) as dl, \
            pytest.raises(DownloadStalled, match="past its deadline"):
        dl.download(request(comfy, hostile.file_url(f.name), f.name, expected_size=f.size))
    assert 1.0 <= time.monotonic() - began < 3.0  # deadline = 0.3 s + 1 MB / (1 MB/s)
    assert staged(comfy) and staged(comfy)[0].stat().st_size > 0


def test_a_normal_download_is_not_slowed_by_the_watch(hostile: HostileServer, comfy: Path) -> None:
    f = hostile.add("fast.safetensors", 8 * MB, seed=3)
    with downloader(min_rate=16 * KB, stall_window=0.2) as dl:
        res = dl.download(request(comfy, hostile.file_url(f.name), f.name, expected_sha256=f.sha256))
    assert res.sha256 == f.sha256 and res.attempts == 1


# --- declared sizes ------------------------------------------------------------------------------------


def test_a_file_far_larger_than_its_rounded_size_is_refused_from_content_length(hostile: HostileServer,
                                                                                 comfy: Path) -> None:
    f = hostile.add("huge.safetensors", 64 * MB, seed=4)
    req = request(comfy, hostile.file_url(f.name), f.name, approx_size=16 * KB, size_tolerance=0.01)
    with downloader() as dl, pytest.raises(IntegrityError, match=r"offers 67108864 bytes \(64\.0 MB\) but the source "
                                                                 r"says about 16\.0 KB.*nothing was downloaded"):
        dl.download(req)
    assert all(p.stat().st_size == 0 for p in staged(comfy)) and model_files(comfy) == []


def test_a_stream_without_content_length_is_cut_at_the_upper_bound(hostile: HostileServer, comfy: Path) -> None:
    f = hostile.add("nolength.safetensors", 64 * MB, seed=5, declared=None)
    req = request(comfy, hostile.file_url(f.name), f.name, approx_size=2 * MB, size_tolerance=0.01)
    with downloader() as dl, pytest.raises(IntegrityError, match="the server sent more than expected") as info:
        dl.download(req)
    assert "deleted the partial file" in str(info.value)
    assert staged(comfy) == [] and model_files(comfy) == [] and quarantined(comfy) == []
    assert hostile.bytes_sent(f.name) < 16 * MB  # stopped early, not after the whole 64 MB


def test_an_exact_size_is_enforced_while_streaming_too(hostile: HostileServer, comfy: Path) -> None:
    f = hostile.add("exact.safetensors", 32 * MB, seed=6, declared=None)
    with downloader() as dl, pytest.raises(IntegrityError, match="source says 1048576 bytes"):
        dl.download(request(comfy, hostile.file_url(f.name), f.name, expected_size=MB))
    assert hostile.bytes_sent(f.name) < 12 * MB


def test_rounded_sizes_within_tolerance_are_placed(hostile: HostileServer, comfy: Path) -> None:
    """Civitai's sizeKB rounded to whole KiB (off by up to 1 KiB) still matches; no Content-Length either."""
    f = hostile.add("civ.safetensors", 5 * MB + 777, seed=7, declared=None)
    approx = round(f.size / 1024) * 1024
    with downloader() as dl:
        res = dl.download(request(comfy, hostile.file_url(f.name), f.name, approx_size=approx,
                                  size_tolerance=rounded_size_tolerance("civitai")))
    assert res.size == f.size and res.sha256 == f.sha256


def test_a_file_much_smaller_than_announced_is_refused(hostile: HostileServer, comfy: Path) -> None:
    f = hostile.add("small.safetensors", MB, seed=8)
    with downloader() as dl, pytest.raises(IntegrityError, match="nothing was downloaded"):
        dl.download(request(comfy, hostile.file_url(f.name), f.name, approx_size=4 * MB))
    g = hostile.add("small2.safetensors", MB, seed=9, declared=None)  # without Content-Length: caught at the end
    with downloader() as dl, pytest.raises(IntegrityError, match=r"is not what the source says about 4\.00 MB"):
        dl.download(request(comfy, hostile.file_url(g.name), g.name, approx_size=4 * MB))
    assert len(quarantined(comfy)) == 1 and model_files(comfy) == []


def test_size_bounds_and_units() -> None:
    base = {"url": "http://127.0.0.1/x", "target": Path("/c/x"), "allowed_roots": [Path("/c")],
            "staging_dir": Path("/c/s"), "quarantine_dir": Path("/c/q")}
    assert size_bounds(DownloadRequest(**base)) is None
    assert size_bounds(DownloadRequest(**base, expected_size=10)) == (10, 10)
    assert size_bounds(DownloadRequest(**base, approx_size=100 * KB)) == (98 * KB, 102 * KB)  # 2 KiB floor
    assert size_bounds(DownloadRequest(**base, approx_size=1000 * MB, size_tolerance=0.1)) == (900 * MB, 1100 * MB)
    assert rounded_size_tolerance("civitai-hash") == 0.01 and rounded_size_tolerance("catalog:manager") == 0.10
    assert [human_bytes(n) for n in (0, 10, 1023, 2048, 64 * MB, int(6.46 * 1024**3), 300 * 1024**3)] == [
        "0 B", "10 B", "1023 B", "2.00 KB", "64.0 MB", "6.46 GB", "300 GB"]


# --- disk ----------------------------------------------------------------------------------------------------


def test_an_endless_stream_stops_before_the_disk_is_full(hostile: HostileServer, comfy: Path) -> None:
    """No Content-Length, no declared size: free space is watched; the reserve is kept and the .part removed."""
    f = hostile.add("endless.bin", 0, safetensors=False, endless=True)
    disk = ShrinkingDisk(free=(64 + 6) * MB)
    with downloader(disk=disk) as dl, pytest.raises(DiskFull) as info:
        dl.download(request(comfy, hostile.file_url(f.name), f.name))
    msg = str(info.value)
    assert "the server did not say the size" in msg and "keeps 64.0 MB free" in msg and "deleted the partial" in msg
    assert disk.free_bytes(comfy) >= 64 * MB  # the reserve is never touched, let alone the last byte
    assert 5 * MB <= disk.written <= 6 * MB
    assert staged(comfy) == [] and model_files(comfy) == []


def test_space_taken_by_someone_else_mid_download_keeps_the_partial(hostile: HostileServer, comfy: Path) -> None:
    """With a known size the partial is kept and the message says how much to free; the next run resumes."""
    f = hostile.add("shared.safetensors", 8 * MB, seed=10)
    req = request(comfy, hostile.file_url(f.name), f.name, expected_sha256=f.sha256)
    # first query: the check before streaming; then one per 1 MiB buffer, so the space goes after 3 MiB were read
    disk = ShrinkingDisk(free=100 * MB, steal=90 * MB, steal_on_query=5)
    with downloader(disk=disk) as dl, pytest.raises(DiskFull, match=r"stopped at .* of 8\.00 MB") as info:
        dl.download(req)
    assert "resumes at" in (info.value.hint or "") and info.value.free is not None
    [part] = staged(comfy)
    kept = part.stat().st_size
    assert 2 * MB <= kept < f.size
    with downloader() as dl:
        res = dl.download(req)
    assert res.resumed_from == kept and hashlib.sha256(
        (comfy / "models/checkpoints/shared.safetensors").read_bytes()).hexdigest() == f.sha256
