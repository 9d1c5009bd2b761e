"""Helpers shared by the download, fix and executor tests (a plain module: the tests folder is not a package)."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.tools.download import Disk, Downloader, DownloadRequest, HostPolicy
from comfyfixer.tools.http import RetryPolicy

TOKEN = "civitai-test-token"
KB = 1 << 10
MB = 1 << 20


def fast_retry() -> RetryPolicy:
    """Retries that do not wait (the fake servers answer at once)."""
    return RetryPolicy(retries=3, base=0.01, cap=0.05, jitter=False)


def downloader(**kw: object) -> Downloader:
    """A loopback-only downloader with fast retries; keyword arguments go to :class:`Downloader`."""
    kw.setdefault("timeout", 5.0)
    return Downloader(HostPolicy.build(["127.0.0.1", "localhost"]),
                      retry=RetryPolicy(retries=2, base=0.01, cap=0.05, jitter=False), **kw)  # type: ignore[arg-type]


def request(comfy: Path, url: str, name: str, folder: str = "checkpoints", **kw: object) -> DownloadRequest:
    """A download of ``url`` into ``models/<folder>/<name>`` with the ComfyUI tree's staging and quarantine."""
    return DownloadRequest(url=url, target=comfy / "models" / folder / name, allowed_roots=[comfy],
                           staging_dir=comfy / ".comfyfixer" / "staging",
                           quarantine_dir=comfy / ".comfyfixer" / "quarantine", label=name, **kw)  # type: ignore[arg-type]


def staged(comfy: Path) -> list[Path]:
    folder = comfy / ".comfyfixer" / "staging"
    return sorted(folder.glob("*.part")) if folder.exists() else []


def quarantined(comfy: Path) -> list[Path]:
    folder = comfy / ".comfyfixer" / "quarantine"
    return sorted(folder.glob("*.quarantined")) if folder.exists() else []


def model_files(comfy: Path) -> list[str]:
    """Every file under models/ (relative), to assert nothing half-done is there."""
    return sorted(p.relative_to(comfy).as_posix() for p in (comfy / "models").rglob("*") if p.is_file())


class ShrinkingDisk(Disk):
    """Free space that shrinks as the engine writes; ``steal`` bytes vanish from the ``steal_on_query``-th
    time the engine looks at free space on (another program filling the disk mid-download). Counted in
    queries, not in bytes written, so the moment does not depend on how the writer thread is scheduled."""

    def __init__(self, free: int, *, steal: int = 0, steal_on_query: int = 0) -> None:
        self.free = free
        self.steal = steal
        self.steal_on_query = steal_on_query
        self.queries = 0
        self.written = 0

    def free_bytes(self, path: Path) -> int:
        self.queries += 1
        stolen = self.steal if self.steal and self.queries >= self.steal_on_query else 0
        return max(0, self.free - self.written - stolen)

    def write(self, fd: int, chunk: memoryview) -> None:
        super().write(fd, chunk)
        self.written += len(chunk)
