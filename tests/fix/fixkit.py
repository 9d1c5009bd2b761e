"""Helpers shared by the fix tests (a plain module: the tests folder is not a package)."""

from __future__ import annotations

from pathlib import Path

from comfyfixer.tools.download import DownloadRequest
from comfyfixer.tools.http import RetryPolicy

TOKEN = "civitai-test-token"
MB = 1 << 20


def fast_retry() -> RetryPolicy:
    return RetryPolicy(retries=3, base=0.01, cap=0.05, jitter=False)


def request(comfy: Path, url: str, name: str, folder: str = "checkpoints", **kw: object) -> DownloadRequest:
    target = comfy / "models" / folder / name
    return DownloadRequest(url=url, target=target, allowed_roots=[comfy],
                           staging_dir=comfy / ".comfyfixer" / "staging",
                           quarantine_dir=comfy / ".comfyfixer" / "quarantine", label=name, **kw)


def model_files(comfy: Path) -> list[str]:
    """Every file under models/ (relative), to assert nothing half-done is there."""
    return sorted(p.relative_to(comfy).as_posix() for p in (comfy / "models").rglob("*") if p.is_file())
