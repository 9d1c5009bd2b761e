"""Checks a downloaded file must pass before it is placed: size, sha256, header, pickle allow-list.

* an HTML (or XML error) page is never a model, whatever its name says;
* a safetensors file must have a parseable header whose tensors cover the file exactly
  (a truncated download fails this even when no size was known);
* anything holding pickle data — by content (a raw pickle stream, a zip with ``.pkl`` entries) or by
  name (``.ckpt``, ``.pt``, ``.pth``, ``.bin``, ``.pkl``) — has every import checked against the
  allow-list of :mod:`comfyfixer.tools.download.pickle_allow`; anything else means refusal.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from pathlib import Path

from comfyfixer.tools.download.pickle_allow import PickleScan, has_pickles, scan_pickle_file
from comfyfixer.tools.errors import InputError, IntegrityError
from comfyfixer.tools.modelfile import ModelHeader, read_safetensors_header

log = logging.getLogger(__name__)

SAFETENSORS_SUFFIXES = frozenset({".safetensors", ".sft"})
PICKLE_SUFFIXES = frozenset({".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pt2"})
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<error")


def sha256_file(path: Path, *, chunk: int = 4 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def norm_sha256(value: str | None) -> str | None:
    """Lower-case hex sha256 (Civitai sends upper case, HF quotes its etags) or None if not a sha256."""
    if not value:
        return None
    v = value.strip().strip('"').lower()
    if v.startswith("w/"):
        v = v[2:].strip('"')
    return v if len(v) == 64 and all(c in "0123456789abcdef" for c in v) else None


def looks_like_html(head: bytes) -> bool:
    """True if the first bytes of a body are an HTML page or an XML error document."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(_HTML_MARKERS)


def check_safetensors(path: Path) -> ModelHeader:
    """Parse the safetensors header; raise :class:`IntegrityError` unless it is valid and covers the file
    exactly (``modelfile``'s reader in its exact mode: its bounds and checks, any dtype name kept)."""
    try:
        return read_safetensors_header(path, exact=True)
    except InputError as err:
        raise IntegrityError(err.message, hint="the download is truncated or corrupted; delete it and download again") from None


def check_header(path: Path, suffix: str) -> str:
    """Check the file's leading bytes against its format; return a short description."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if looks_like_html(head):
        raise IntegrityError(f"{path.name}: the server sent an HTML/XML page, not a model file",
                             hint="this is usually a login or error page: check the token and the URL")
    suffix = suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return f"safetensors ({len(check_safetensors(path).tensors)} tensors)"
    if suffix in PICKLE_SUFFIXES:
        if head.startswith(b"PK\x03\x04"):
            if not zipfile.is_zipfile(path):
                raise IntegrityError(f"{path.name}: a truncated or broken zip (torch) archive")
            return "zip archive"
        if head[:1] == b"\x80":
            return "pickle"
        return "unknown binary"
    if suffix == ".gguf" and not head.startswith(b"GGUF"):
        raise IntegrityError(f"{path.name}: not a GGUF file (bad magic)")
    return "unchecked format"


def needs_pickle_check(path: Path, suffix: str) -> bool:
    """True if the file holds pickle data by its content, or its name says it is a pickle format.

    ComfyUI picks the loader by suffix: ``.safetensors``/``.sft`` go to safetensors and ``.gguf`` to a
    GGUF reader, never to ``torch.load``, and :func:`check_header` has already validated those formats
    (a safetensors header length can start with the bytes of a pickle's PROTO opcode by chance).
    Every other file is checked if its name or its content says pickle.
    """
    suffix = suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES or suffix == ".gguf":
        return False
    with open(path, "rb") as fh:
        head = fh.read(8)
    return suffix in PICKLE_SUFFIXES or has_pickles(path, head)


def scan_pickle(path: Path) -> PickleScan:
    """Check every import of the pickle(s) in ``path`` against the weights allow-list (nothing is executed)."""
    return scan_pickle_file(path)


__all__ = ["PICKLE_SUFFIXES", "PickleScan", "check_header", "check_safetensors", "looks_like_html",
           "needs_pickle_check", "norm_sha256", "scan_pickle", "sha256_file"]
