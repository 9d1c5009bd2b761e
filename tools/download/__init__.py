"""Safe, resumable model downloads: host allow-list, ``.part`` staging, size/pace/disk limits, verification
(pickle allow-list included), quarantine."""

from comfyfixer.tools.download.engine import (
    Disk,
    Downloader,
    DownloadRequest,
    DownloadResult,
    Progress,
    disposition_filename,
    human_bytes,
    rounded_size_tolerance,
    size_bounds,
)
from comfyfixer.tools.download.hosts import DEFAULT_ALLOWED_HOSTS, HostNotAllowed, HostPolicy
from comfyfixer.tools.download.pickle_allow import ALLOWED_GLOBALS
from comfyfixer.tools.download.staging import quarantine_dir_for, staging_dir_for
from comfyfixer.tools.download.verify import PickleScan, check_header, norm_sha256, scan_pickle, sha256_file

__all__ = [
    "ALLOWED_GLOBALS",
    "DEFAULT_ALLOWED_HOSTS",
    "Disk",
    "DownloadRequest",
    "DownloadResult",
    "Downloader",
    "HostNotAllowed",
    "HostPolicy",
    "PickleScan",
    "Progress",
    "check_header",
    "disposition_filename",
    "human_bytes",
    "norm_sha256",
    "quarantine_dir_for",
    "rounded_size_tolerance",
    "scan_pickle",
    "sha256_file",
    "size_bounds",
    "staging_dir_for",
]
