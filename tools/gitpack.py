"""Kept importable while callers move to :mod:`comfyfixer.tools.packs` (a thin re-export, nothing else)."""

from comfyfixer.tools.packs.git import (
    PackInstallRequest,
    PackInstallResult,
    PackRefused,
    Runner,
    clone_verified,
    head_commit,
    install_pack,
    remote_head,
)

__all__ = [
    "PackInstallRequest",
    "PackInstallResult",
    "PackRefused",
    "Runner",
    "clone_verified",
    "head_commit",
    "install_pack",
    "remote_head",
]
