"""Civitai's hash kinds: which a given hex string can be, and how to compare them.

Civitai stores several hashes per file: SHA256 and BLAKE3 (64 hex), AutoV1 (8 hex, A1111's old
model hash), AutoV2 (the first 10 hex of the SHA256, what A1111 writes into PNG parameters), AutoV3 (12
hex) and CRC32 (8 hex). Images and old workflows usually carry only a short one, so the kind is
guessed from the length and a short match is confirmed before it is trusted.
"""

from __future__ import annotations

import re
from enum import StrEnum

_HEX = re.compile(r"^[0-9a-fA-F]+$")


class HashKind(StrEnum):
    """The hash names Civitai uses as keys of a file's ``hashes`` (compare case-insensitively)."""
    SHA256 = "SHA256"
    BLAKE3 = "BLAKE3"
    AUTOV1 = "AutoV1"
    AUTOV2 = "AutoV2"
    AUTOV3 = "AutoV3"
    CRC32 = "CRC32"


def normalize_hash(value: str) -> str:
    """Lower-case hex without quotes, ``W/`` prefixes or ``sha256:`` labels."""
    v = value.strip().strip('"')
    if v.startswith("W/"):
        v = v[2:].strip('"')
    if ":" in v:
        v = v.split(":", 1)[1]
    return v.lower()


def guess_kinds(value: str) -> list[HashKind]:
    """Kinds a hash may be, by length; 8 hex is ambiguous (AutoV1 or CRC32), 64 hex is SHA256 or BLAKE3."""
    v = normalize_hash(value)
    if not _HEX.match(v):
        return []
    return {
        64: [HashKind.SHA256, HashKind.BLAKE3],
        12: [HashKind.AUTOV3],
        10: [HashKind.AUTOV2],
        8: [HashKind.AUTOV1, HashKind.CRC32],
    }.get(len(v), [])


def is_short(value: str) -> bool:
    """Short hashes collide: a match by one must be confirmed (AutoV2 = first 10 hex of the SHA256)."""
    return len(normalize_hash(value)) < 64


def confirms(short: str, sha256: str | None) -> bool:
    """An AutoV2 hash is the SHA256's first 10 hex digits; other short kinds cannot be confirmed that way."""
    if not sha256:
        return False
    s, full = normalize_hash(short), normalize_hash(sha256)
    return len(s) == 10 and full.startswith(s)
