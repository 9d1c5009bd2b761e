"""Approval tokens: the user's explicit "yes" to one exact plan file, in records nobody can quietly edit.

A token looks like ``approve:<plan_id>:<nonce>``. Issuing one writes
``<state_dir>/approvals/<nonce>.json`` with the plan id, the plan file's path and the sha256 of its
bytes, the issue and expiry times, whether it was used — and an HMAC-SHA256 over all of that (and
the nonce) under a per-install key. Any edited field (a later ``expires_at``, another ``plan_id``
or plan hash, ``used_at`` cleared, a record copied to another nonce's file) breaks the MAC and the
token is refused with :class:`ApprovalError`.

The key is ``<state_dir>/approval.key``: 32 random bytes (hex), created on first use with mode 0600
(written to a private temporary file, then linked into place, so no one ever sees a partial key and
two processes racing to create it end up sharing the winner's). It is never printed or logged. A key
file that others may read or write (POSIX mode bits beyond 0600, or owned by another user) is refused
with the ``chmod`` that fixes it. If the key is gone, every earlier approval is void: approve again.

A token is accepted once: :func:`consume` claims it by creating ``approvals/used/<nonce>`` with
``O_EXCL`` (two concurrent ``apply`` runs cannot both win), then rewrites the record with ``used_at``
set under a fresh MAC, so deleting the marker file does not revive the token either.

What this does not stop: someone who can read the key file (the same account) can forge records,
and restoring a byte-for-byte backup of an unused record *and* deleting its marker replays it. The
MAC turns casual or accidental edits into a refusal; the account's own permissions guard the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from comfyfixer.agent.plan import file_digest
from comfyfixer.tools.errors import ApprovalError
from comfyfixer.tools.paths import atomic_write

if TYPE_CHECKING:
    from comfyfixer.agent.journal import Journal

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"^approve:([0-9a-f]{64}):([A-Za-z0-9_-]{16,64})$")
KEY_NAME = "approval.key"
RECORD_FORMAT = "comfyfixer.approval/1"
_KEY_BYTES = 32


class Approval(BaseModel):
    token: str
    plan_id: str
    plan_file: str
    plan_sha256: str
    issued_at: str
    expires_at: str
    used_at: str | None = None
    mac: str = ""


def _dir(state_dir: Path) -> Path:
    return Path(state_dir) / "approvals"


def key_path(state_dir: Path) -> Path:
    """Where the per-install approval key lives (inside the state folder)."""
    return Path(state_dir) / KEY_NAME


# --- the key -----------------------------------------------------------------------------------------


def _create_key(path: Path) -> None:
    """Write a new key privately (mode 0600 before it is visible) and link it into place, never replacing one."""
    try:
        atomic_write(path, secrets.token_hex(_KEY_BYTES) + "\n", exclusive=True, mode=0o600)
    except FileExistsError:
        return  # another process made the key first: we use theirs
    log.info("created the approval key %s", path)


def _read_key(path: Path) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ApprovalError(
            f"the approval key {path} is missing, so no approval issued before can be verified",
            hint="approvals made before it was removed are void; run `comfyfixer approve PLAN_FILE` again",
        ) from None
    except OSError as exc:
        raise ApprovalError(f"cannot read the approval key {path}: {exc.strerror or exc}",
                            hint=f"it must be a regular file you own; remove {path} and approve again") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ApprovalError(f"the approval key {path} is not a regular file",
                                hint=f"remove {path} and approve again")
        if os.name == "posix":
            if st.st_mode & 0o077:
                raise ApprovalError(
                    f"the approval key {path} is accessible to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                    "refusing to trust it",
                    hint=f"run `chmod 600 {path}` (or remove it and approve again)")
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                raise ApprovalError(f"the approval key {path} belongs to another user; refusing to trust it",
                                    hint=f"remove {path} and approve again as yourself")
        raw = os.read(fd, 4 * _KEY_BYTES).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        raise ApprovalError(f"the approval key {path} is damaged", hint=f"remove {path} and approve again")
    return key


def _key(state_dir: Path, *, create: bool) -> bytes:
    path = key_path(state_dir)
    if create and not path.exists() and not path.is_symlink():
        _create_key(path)
    return _read_key(path)


def _mac(key: bytes, nonce: str, approval: Approval) -> str:
    fields = approval.model_dump(exclude={"mac"})
    canon = json.dumps({"format": RECORD_FORMAT, "nonce": nonce, **fields}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canon.encode("ascii"), hashlib.sha256).hexdigest()


def _write_record(path: Path, approval: Approval, *, new: bool) -> None:
    """A new record is created exclusively; a used one replaces the old atomically (readers see one or the other)."""
    atomic_write(path, approval.model_dump_json(), exclusive=new, mode=0o600)


# --- public ------------------------------------------------------------------------------------------


def issue(plan_file: Path, plan_id: str, state_dir: Path, ttl_seconds: int) -> Approval:
    """Record an authenticated approval for the plan file as it is now; returns the token and its expiry."""
    key = _key(state_dir, create=True)
    nonce = secrets.token_urlsafe(18)
    now = datetime.now(UTC)
    approval = Approval(
        token=f"approve:{plan_id}:{nonce}", plan_id=plan_id, plan_file=str(Path(plan_file).resolve()),
        plan_sha256=file_digest(plan_file), issued_at=now.isoformat(timespec="seconds"),
        expires_at=(now + timedelta(seconds=ttl_seconds)).isoformat(timespec="seconds"),
    )
    approval.mac = _mac(key, nonce, approval)
    folder = _dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _write_record(folder / f"{nonce}.json", approval, new=True)
    return approval


def grant(plan_file: Path, plan_id: str, state_dir: Path, ttl_seconds: int, journal: Journal, *,
          via: str = "approve", parent_plan: str | None = None, actions: list[str] | None = None) -> Approval:
    """Issue an approval and journal it as an ``approve`` entry (the token itself is never journaled).

    ``via`` says how the user said yes (``approve`` for the approve command, ``apply-confirmed`` for a
    confirmation at the apply prompt), so every approval — also one that is used at once — is on record.
    """
    granted = issue(plan_file, plan_id, state_dir, ttl_seconds)
    journal.append("approve", plan_id=plan_id,
                   inputs={"plan_file": str(plan_file), "parent_plan": parent_plan or plan_id, "via": via},
                   outputs={"expires_at": granted.expires_at, "actions": list(actions or [])},
                   message=f"approved plan {plan_id[:12]} until {granted.expires_at} ({via})")
    return granted


def parse(token: str) -> tuple[str, str]:
    m = _TOKEN.match(token.strip())
    if not m:
        raise ApprovalError("malformed approval token", hint="it looks like approve:<plan_id>:<nonce>; run `comfyfixer approve`")
    return m.group(1), m.group(2)


def _load(token: str, plan_id: str, state_dir: Path) -> tuple[str, Approval, bytes]:
    tok_plan, nonce = parse(token)
    if tok_plan != plan_id:
        raise ApprovalError("this token approves a different plan", hint="approve this plan file first")
    record = _dir(state_dir) / f"{nonce}.json"
    try:
        raw = record.read_text(encoding="utf-8")
    except OSError:
        raise ApprovalError("unknown approval token", hint="run `comfyfixer approve PLAN_FILE` to get one") from None
    try:
        approval = Approval.model_validate_json(raw)
    except ValueError:
        raise ApprovalError(f"the approval record {record.name} is damaged or was edited",
                            hint="approve the plan again") from None
    if not approval.mac:
        raise ApprovalError(f"the approval record {record.name} is not authenticated (made by an older version, "
                            "or edited)", hint="approve the plan again with `comfyfixer approve PLAN_FILE`")
    key = _key(state_dir, create=False)
    if not hmac.compare_digest(approval.mac, _mac(key, nonce, approval)):
        raise ApprovalError(f"the approval record {record.name} was edited or does not belong to this token; "
                            "refusing it", hint="approve the plan again with `comfyfixer approve PLAN_FILE`")
    if approval.token != token.strip() or approval.plan_id != plan_id:
        raise ApprovalError("approval record does not match the token", hint="approve the plan again")
    return nonce, approval, key


def check(token: str, plan_file: Path, plan_id: str, state_dir: Path, *, now: datetime | None = None) -> Approval:
    """Validate without using up the token (for --dry-run); raises :class:`ApprovalError`."""
    nonce, approval, _ = _load(token, plan_id, state_dir)
    if approval.used_at is not None or (_dir(state_dir) / "used" / nonce).exists():
        raise ApprovalError("this approval token was already used", hint="approve the plan again to run it again")
    if (now or datetime.now(UTC)) > datetime.fromisoformat(approval.expires_at):
        raise ApprovalError(f"approval token expired at {approval.expires_at}", hint="approve the plan again")
    try:
        digest = file_digest(plan_file)
    except OSError:
        raise ApprovalError(f"plan file {plan_file} cannot be read") from None
    if digest != approval.plan_sha256:
        raise ApprovalError("the plan file changed after it was approved; the token is void",
                            hint="review and approve the plan again")
    return approval


def consume(token: str, plan_file: Path, plan_id: str, state_dir: Path) -> Approval:
    """Validate and use up the token (single use, atomically)."""
    approval = check(token, plan_file, plan_id, state_dir)
    nonce, _, key = _load(token, plan_id, state_dir)
    used = _dir(state_dir) / "used"
    used.mkdir(parents=True, exist_ok=True)
    used_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        fd = os.open(used / nonce, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ApprovalError("this approval token was already used", hint="approve the plan again") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"used_at": used_at, "plan_id": plan_id}))
    spent = approval.model_copy(update={"used_at": used_at})
    spent.mac = _mac(key, nonce, spent)
    _write_record(_dir(state_dir) / f"{nonce}.json", spent, new=False)
    return spent

