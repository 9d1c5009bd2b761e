"""Approval tokens: the user's explicit "yes" to one exact plan file.

A token looks like ``approve:<plan_id>:<nonce>``. Issuing one writes
``<state_dir>/approvals/<nonce>.json`` with the plan id, the sha256 of the plan file's bytes
and an expiry. A token is accepted once: :func:`consume` claims it by creating
``approvals/used/<nonce>`` with ``O_EXCL`` (so two concurrent ``apply`` runs cannot both win),
and refuses it if it expired or if the plan file changed since approval.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from comfyfixer.agent.plan import file_digest
from comfyfixer.tools.errors import ApprovalError

_TOKEN = re.compile(r"^approve:([0-9a-f]{64}):([A-Za-z0-9_-]{16,64})$")


class Approval(BaseModel):
    token: str
    plan_id: str
    plan_file: str
    plan_sha256: str
    issued_at: str
    expires_at: str


def _dir(state_dir: Path) -> Path:
    return Path(state_dir) / "approvals"


def issue(plan_file: Path, plan_id: str, state_dir: Path, ttl_seconds: int) -> Approval:
    """Record an approval for the plan file as it is now; returns the token and its expiry."""
    nonce = secrets.token_urlsafe(18)
    now = datetime.now(UTC)
    approval = Approval(
        token=f"approve:{plan_id}:{nonce}", plan_id=plan_id, plan_file=str(Path(plan_file).resolve()),
        plan_sha256=file_digest(plan_file), issued_at=now.isoformat(timespec="seconds"),
        expires_at=(now + timedelta(seconds=ttl_seconds)).isoformat(timespec="seconds"),
    )
    folder = _dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{nonce}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(approval.model_dump_json())
    return approval


def parse(token: str) -> tuple[str, str]:
    m = _TOKEN.match(token.strip())
    if not m:
        raise ApprovalError("malformed approval token", hint="it looks like approve:<plan_id>:<nonce>; run `comfyfixer approve`")
    return m.group(1), m.group(2)


def check(token: str, plan_file: Path, plan_id: str, state_dir: Path, *, now: datetime | None = None) -> Approval:
    """Validate without using up the token (for --dry-run); raises :class:`ApprovalError`."""
    tok_plan, nonce = parse(token)
    if tok_plan != plan_id:
        raise ApprovalError("this token approves a different plan", hint="approve this plan file first")
    record = _dir(state_dir) / f"{nonce}.json"
    try:
        approval = Approval.model_validate_json(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ApprovalError("unknown approval token", hint="run `comfyfixer approve PLAN_FILE` to get one") from None
    if approval.token != token.strip() or approval.plan_id != plan_id:
        raise ApprovalError("approval record does not match the token")
    if (_dir(state_dir) / "used" / nonce).exists():
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
    _, nonce = parse(token)
    used = _dir(state_dir) / "used"
    used.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(used / nonce, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ApprovalError("this approval token was already used", hint="approve the plan again") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"used_at": datetime.now(UTC).isoformat(timespec="seconds"), "plan_id": plan_id}))
    return approval
