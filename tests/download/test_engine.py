"""The download engine against the loopback file server: every failure mode ends as specified."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
from dlkit import MB, fast_retry, model_files, quarantined, request

from comfyfixer.evals.fakes.file_server import FileServer
from comfyfixer.tools.download import Disk, Downloader, HostNotAllowed, HostPolicy, sha256_file
from comfyfixer.tools.errors import (
    AuthRequired,
    ComfyFixerError,
    DiskFull,
    IntegrityError,
    NotFound,
    RateLimited,
    UpstreamError,
)


def test_direct_download_verifies_and_places(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("direct.safetensors", 3 * MB + 17)
    res = downloader.download(request(comfy, server.direct_url(f.name), "direct.safetensors", expected_sha256=f.sha256.upper(),
                                      expected_size=f.size))
    target = comfy / "models/checkpoints/direct.safetensors"
    assert res.status == "downloaded" and res.sha256_checked_against == "plan"
    assert sha256_file(target) == f.sha256
    assert res.header.startswith("safetensors")
    assert model_files(comfy) == ["models/checkpoints/direct.safetensors"]
    assert not list((comfy / ".comfyfixer" / "staging").glob("*.part"))


def test_present_file_with_same_hash_is_not_downloaded_again(server: FileServer, downloader: Downloader,
                                                             comfy: Path) -> None:
    f = server.add_file("again.safetensors", 2 * MB)
    req = request(comfy, server.direct_url(f.name), "again.safetensors", expected_sha256=f.sha256)
    downloader.download(req)
    server.reset_records()
    res = downloader.download(req)
    assert res.status == "already_present"
    assert server.records() == []


def test_mismatching_existing_file_is_quarantined_not_overwritten(server: FileServer, downloader: Downloader,
                                                                  comfy: Path) -> None:
    f = server.add_file("swap.safetensors", 2 * MB)
    target = comfy / "models/checkpoints/swap.safetensors"
    target.write_bytes(b"user's own different file")
    res = downloader.download(request(comfy, server.direct_url(f.name), "swap.safetensors", expected_sha256=f.sha256))
    assert res.status == "downloaded" and len(res.quarantined) == 1
    [q] = quarantined(comfy)
    assert q.read_bytes() == b"user's own different file"
    assert json.loads(q.with_name(q.name + ".json").read_text())["original"] == str(target)
    assert sha256_file(target) == f.sha256


def test_civitai_flow_resumes_with_fresh_signed_url_and_keeps_token_home(
        server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("civ.safetensors", 12 * MB, seed=3, disposition_name="civModel_v10.safetensors",
                        fail_after=5 * MB, fail_times=1)
    url = server.add_civitai(4242, f.name)
    res = downloader.download(request(comfy, url, "civ.safetensors", expected_sha256=f.sha256, expected_size=f.size))
    assert res.status == "downloaded" and res.attempts == 2
    assert res.server_filename == "civModel_v10.safetensors"
    signed = server.records("/signed/")
    assert len(signed) == 2, "a fresh signed URL must be requested after the drop (each is single-use)"
    assert signed[1].range is not None and signed[1].range.startswith("bytes=")
    assert int(signed[1].range[6:].rstrip("-")) >= MB  # resumed, not restarted
    assert all(not r.authorization for r in signed), "the token must never reach the storage host"
    assert all(r.authorization for r in server.records("/api/download/"))
    assert server.bytes_sent(f.name) < f.size + MB
    assert sha256_file(comfy / "models/checkpoints/civ.safetensors") == f.sha256


def test_hf_redirect_hash_is_taken_from_x_linked_etag(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("hf.safetensors", 2 * MB, seed=4)
    url = server.add_hf("org/repo", "split_files/hf.safetensors", f.name)
    res = downloader.download(request(comfy, url, "hf.safetensors"))
    assert res.sha256_checked_against == "server" and res.sha256 == f.sha256
    assert res.final_host == "localhost"


def test_wrong_hash_is_quarantined(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("wrong.safetensors", 2 * MB, seed=5, advertised_sha256="ab" * 32)
    url = server.add_hf("org/repo", "wrong.safetensors", f.name)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        downloader.download(request(comfy, url, "wrong.safetensors"))
    assert model_files(comfy) == []
    [q] = quarantined(comfy)
    assert hashlib.sha256(q.read_bytes()).hexdigest() == f.sha256


def test_civitai_without_token_is_a_clear_auth_error(server: FileServer, comfy: Path) -> None:
    f = server.add_file("gated.safetensors", MB)
    url = server.add_civitai(7, f.name)
    with Downloader(HostPolicy.build(["127.0.0.1", "localhost"]), retry=fast_retry()) as dl, \
            pytest.raises(AuthRequired, match="refused access"):
        dl.download(request(comfy, url, "gated.safetensors"))
    assert model_files(comfy) == []


def test_redirect_to_html_login_page_is_rejected(server: FileServer, comfy: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that does not ask for JSON gets redirected to the login page; that must not be saved."""
    from comfyfixer.tools.download import transport

    f = server.add_file("login.safetensors", MB)
    url = server.add_civitai(8, f.name)
    real_get = transport.get

    def get_without_json(url, headers, timeout):
        return real_get(url, {k: v for k, v in headers.items() if k != "Content-Type"}, timeout)

    monkeypatch.setattr(transport, "get", get_without_json)
    with Downloader(HostPolicy.build(["127.0.0.1", "localhost"]), retry=fast_retry()) as dl, \
            pytest.raises(AuthRequired, match="login page"):
        dl.download(request(comfy, url, "login.safetensors"))
    assert [r.path for r in server.records()][-1] == "/login"
    assert model_files(comfy) == []


def test_html_body_with_binary_content_type_is_rejected(server: FileServer, downloader: Downloader,
                                                        comfy: Path) -> None:
    server.add_file("page.safetensors", data=b"<!DOCTYPE html><html><body>Sign in</body></html>")
    with pytest.raises(IntegrityError, match="HTML"):
        downloader.download(request(comfy, server.direct_url("page.safetensors"), "page.safetensors"))
    assert model_files(comfy) == [] and len(quarantined(comfy)) == 1


@pytest.mark.parametrize(("status", "error", "text"), [
    (401, AuthRequired, "refused access"), (403, AuthRequired, "refused access"),
    (404, NotFound, "no such file"), (429, RateLimited, "rate limiting"), (500, UpstreamError, "failed"),
])
def test_status_codes_end_with_specific_errors(server: FileServer, downloader: Downloader, comfy: Path,
                                               status: int, error: type[Exception], text: str) -> None:
    server.add_file(f"s{status}.safetensors", data=b"x", status=status, retry_after="0")
    with pytest.raises(error, match=text):
        downloader.download(request(comfy, server.direct_url(f"s{status}.safetensors"), f"s{status}.safetensors"))
    retried = len(server.records(f"s{status}"))
    assert retried == (4 if status in (429, 500) else 1)  # only 429/5xx are retried
    assert model_files(comfy) == []


def test_truncated_safetensors_without_known_size_is_rejected(server: FileServer, downloader: Downloader,
                                                              comfy: Path) -> None:
    full = server.add_file("full.safetensors", 2 * MB, seed=6)
    cut = full.path.read_bytes()[: MB]
    server.add_file("cut.safetensors", data=cut)
    with pytest.raises(IntegrityError, match="safetensors data should be"):
        downloader.download(request(comfy, server.direct_url("cut.safetensors"), "cut.safetensors"))
    assert model_files(comfy) == []


def test_server_ignoring_range_restarts_cleanly(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("norange.safetensors", 6 * MB, seed=7, fail_after=2 * MB, fail_times=1, ignore_range=True)
    res = downloader.download(request(comfy, server.direct_url(f.name), "norange.safetensors", expected_sha256=f.sha256))
    assert res.sha256 == f.sha256 and res.attempts == 2


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_dangerous_pickle_is_refused(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    server.add_file("evil.ckpt", data=pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(IntegrityError, match=r"refused: the pickle imports (posix|nt)\.system, which a weights file "
                                             r"never needs.*--allow-pickle model:checkpoints/evil\.ckpt"):
        downloader.download(request(comfy, server.direct_url("evil.ckpt"), "evil.ckpt", item="model:checkpoints/evil.ckpt"))
    assert model_files(comfy) == [] and len(quarantined(comfy)) == 1


def test_flagged_pickle_is_placed_only_when_the_user_allows_it(server: FileServer, downloader: Downloader,
                                                               comfy: Path) -> None:
    server.add_file("trusted.ckpt", data=pickle.dumps(_Evil(), protocol=2))
    res = downloader.download(request(comfy, server.direct_url("trusted.ckpt"), "trusted.ckpt",
                                      allow_unsafe_pickle=True))
    assert res.pickle_scan is not None and res.pickle_scan.verdict == "dangerous"
    assert res.pickle_scan.dangerous_globals and (comfy / "models/checkpoints/trusted.ckpt").exists()


def test_clean_pickle_is_placed(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    server.add_file("ok.ckpt", data=pickle.dumps({"state_dict": {"w": [1.0, 2.0]}}, protocol=2))
    res = downloader.download(request(comfy, server.direct_url("ok.ckpt"), "ok.ckpt"))
    assert res.pickle_scan is not None and res.pickle_scan.verdict == "clean"
    assert res.sha256_checked_against == "none"  # no hash known: recorded, not invented
    assert (comfy / "models/checkpoints/ok.ckpt").exists()


def test_hosts_outside_the_allow_list_and_plain_http_are_refused(server: FileServer, comfy: Path) -> None:
    f = server.add_file("host.safetensors", MB)
    with Downloader(HostPolicy.build([]), retry=fast_retry()) as dl, pytest.raises(HostNotAllowed, match="https only"):
        dl.download(request(comfy, server.direct_url(f.name), "host.safetensors"))
    policy = HostPolicy.build(["127.0.0.1"])  # redirect target localhost not added
    url = server.add_hf("org/r", "host.safetensors", f.name)
    with Downloader(policy, retry=fast_retry()) as dl, pytest.raises(HostNotAllowed):
        dl.download(request(comfy, url, "host.safetensors"))
    assert HostPolicy.build([]).check("https://huggingface.co/x").host == "huggingface.co"
    assert HostPolicy.build([]).check("https://cdn-lfs-us-1.hf.co/x").host == "cdn-lfs-us-1.hf.co"
    with pytest.raises(HostNotAllowed):
        HostPolicy.build([]).check("https://evil.example.com/x")
    with pytest.raises(HostNotAllowed):
        HostPolicy.build(["example.com"]).check("http://example.com/x")  # http only for loopback


class _TinyDisk(Disk):
    """A disk with ``free`` bytes left, shrinking as the engine writes; optionally ENOSPC past ``enospc_after``."""

    def __init__(self, free: int, enospc_after: int | None = None) -> None:
        self.free = free
        self.enospc_after = enospc_after
        self.written = 0

    def free_bytes(self, path: Path) -> int:
        return self.free - self.written

    def write(self, fd: int, chunk: memoryview) -> None:
        if self.enospc_after is not None and self.written + len(chunk) > self.enospc_after:
            raise OSError(28, "No space left on device")
        super().write(fd, chunk)
        self.written += len(chunk)


def test_disk_full_before_start_says_real_numbers(server: FileServer, comfy: Path) -> None:
    f = server.add_file("big.safetensors", 2 * MB)
    policy = HostPolicy.build(["127.0.0.1", "localhost"])
    with Downloader(policy, retry=fast_retry(), disk=_TinyDisk(10)) as dl, pytest.raises(DiskFull) as info:
        dl.download(request(comfy, server.direct_url(f.name), "big.safetensors"))
    msg = str(info.value)
    assert "needs 2.00 MB more but only 10 B are free" in msg
    assert "leaves 64.0 MB free so ComfyUI and the system can still write" in msg
    assert info.value.needed == f.size and info.value.free == 10
    assert model_files(comfy) == []
    # a disk with room for the file but not for the reserve is refused too, and says by how much
    with Downloader(policy, retry=fast_retry(), disk=_TinyDisk(f.size + MB)) as dl, \
            pytest.raises(DiskFull, match=r"63\.0 MB short"):
        dl.download(request(comfy, server.direct_url(f.name), "big.safetensors"))


def test_disk_full_mid_write_removes_the_partial(server: FileServer, comfy: Path) -> None:
    """ENOSPC (something else filled the disk): the .part goes, so the rest of the run can still write."""
    f = server.add_file("enospc.safetensors", 4 * MB, seed=8)
    policy = HostPolicy.build(["127.0.0.1", "localhost"])
    req = request(comfy, server.direct_url(f.name), "enospc.safetensors", expected_sha256=f.sha256)
    with Downloader(policy, retry=fast_retry(), disk=_TinyDisk(1 << 40, enospc_after=2 * MB)) as dl, \
            pytest.raises(DiskFull, match=r"filled up after 2\.00 MB; deleted the partial file"):
        dl.download(req)
    assert model_files(comfy) == []
    assert not list(req.staging_dir.glob("*.part")) and not list(req.staging_dir.glob("*.json"))
    with Downloader(policy, retry=fast_retry()) as dl:
        res = dl.download(req)
    assert res.resumed_from == 0 and res.sha256 == f.sha256


def test_size_cap_is_enforced(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("capped.safetensors", 3 * MB)
    with pytest.raises(IntegrityError, match="cap"):
        downloader.download(request(comfy, server.direct_url(f.name), "capped.safetensors", max_bytes=MB))
    assert model_files(comfy) == []


def test_targets_outside_the_allowed_roots_are_refused(server: FileServer, downloader: Downloader, comfy: Path,
                                                        tmp_path: Path) -> None:
    req = request(comfy, server.direct_url("x"), "x.safetensors")
    req.target = tmp_path / "elsewhere.safetensors"
    with pytest.raises(ComfyFixerError, match="outside the allowed folders"):
        downloader.download(req)


def test_unsafe_content_disposition_is_not_used(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    f = server.add_file("cd.safetensors", MB, disposition_name="../../evil.safetensors")
    res = downloader.download(request(comfy, server.direct_url(f.name), "cd.safetensors"))
    assert res.server_filename is None
    assert model_files(comfy) == ["models/checkpoints/cd.safetensors"]


def test_two_runs_never_write_the_same_staged_file(server: FileServer, downloader: Downloader, comfy: Path) -> None:
    from comfyfixer.tools.download import staging

    f = server.add_file("locked.safetensors", MB, seed=9)
    req = request(comfy, server.direct_url(f.name), "locked.safetensors", expected_sha256=f.sha256)
    part, _ = staging.part_paths(req.staging_dir, req.target, f"{req.url}|{f.sha256}|")
    req.staging_dir.mkdir(parents=True)
    with staging.exclusive(part, what="held by the test"), \
            pytest.raises(ComfyFixerError, match="another comfyfixer process"):
        downloader.download(req)
    assert downloader.download(req).status == "downloaded"
    assert sorted(p.name for p in req.staging_dir.iterdir()) == []  # no .part, sidecar or lock left behind
