"""Safe, resumable model downloads: host allow-list, ``.part`` staging, verification, quarantine."""

from comfyfixer.tools.download.engine import (
    Downloader,
    DownloadRequest,
    DownloadResult,
    Progress,
    disposition_filename,
)
from comfyfixer.tools.download.hosts import DEFAULT_ALLOWED_HOSTS, HostNotAllowed, HostPolicy
from comfyfixer.tools.download.staging import quarantine_dir_for, staging_dir_for
from comfyfixer.tools.download.verify import PickleScan, check_header, norm_sha256, scan_pickle, sha256_file

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "DownloadRequest",
    "DownloadResult",
    "Downloader",
    "HostNotAllowed",
    "HostPolicy",
    "PickleScan",
    "Progress",
    "check_header",
    "disposition_filename",
    "norm_sha256",
    "quarantine_dir_for",
    "scan_pickle",
    "sha256_file",
    "staging_dir_for",
]
