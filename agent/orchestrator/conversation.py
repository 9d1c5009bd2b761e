"""Conversations that can be saved and resumed, with their tool trace.

A conversation is an append-only JSON Lines journal under ``<state_dir>/conversations/<id>.jsonl``:
one line per turn with the messages it added, the answer (status, candidates, evidence), the tool
trace (calls, arguments, durations, results) and the usage. Nothing is rewritten; resuming reads the
lines back and replays the messages as history. Approval tokens and secrets are never written.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comfyfixer.agent.orchestrator.records import AgentAnswer, ToolCallRecord
from comfyfixer.tools.errors import InputError

_ID_RE = re.compile(r"^[0-9]{8}-[0-9]{6}-[a-z0-9]{6}$")
# A tool result can be megabytes (a file listing, a whole graph); the journal keeps an excerpt.
MAX_SAVED_RESULT_CHARS = 20_000


def conversations_dir(state_dir: Path) -> Path:
    """``<state_dir>/conversations``: one ``<id>.jsonl`` per conversation; ids sort by creation time."""
    return state_dir / "conversations"


def _new_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


class Conversation:
    """The history of one conversation and the journal it is saved to.

    ``turns`` are the parsed journal lines in order, model turns and events (approvals) alike. The file
    is created on the first append, so a conversation that never gets a turn leaves nothing behind.
    Appends are not locked: one conversation is meant to be used by one process at a time.
    """

    def __init__(self, conversation_id: str, path: Path, turns: list[dict[str, Any]] | None = None) -> None:
        self.id = conversation_id
        self.path = path
        self.turns: list[dict[str, Any]] = turns or []

    # --- creation ---------------------------------------------------------------
    @classmethod
    def new(cls, state_dir: Path) -> Conversation:
        """A fresh conversation with an id ``YYYYMMDD-HHMMSS-xxxxxx`` (UTC, 6 random hex); nothing is written
        yet.
        """
        cid = _new_id()
        return cls(cid, conversations_dir(state_dir) / f"{cid}.jsonl")

    @classmethod
    def load(cls, state_dir: Path, conversation_id: str) -> Conversation:
        """Open a saved conversation; ``"last"`` picks the most recent one.

        Raises ``InputError`` if there is none to resume, if the id does not look like one of ours (so a
        path cannot be smuggled in as an id) or if no such file exists. A torn last line would raise
        ``json.JSONDecodeError``.
        """
        folder = conversations_dir(state_dir)
        if conversation_id == "last":
            saved = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
            if not saved:
                raise InputError("there is no saved conversation to resume", hint="start one with `comfyfixer chat`")
            conversation_id = saved[-1].stem
        if not _ID_RE.match(conversation_id):
            raise InputError(f"{conversation_id!r} is not a conversation id", hint="ids look like 20261123-130501-ab12cd")
        path = folder / f"{conversation_id}.jsonl"
        if not path.is_file():
            raise InputError(f"no saved conversation {conversation_id}", hint=f"saved conversations are in {folder}")
        turns = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return cls(conversation_id, path, turns)

    # --- content ----------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message so far, in order, as qwen-agent message dicts (no system prompt)."""
        return [m for t in self.turns for m in t.get("messages", [])]

    @property
    def trace(self) -> list[ToolCallRecord]:
        """Every tool call of every turn, as records (results over ``MAX_SAVED_RESULT_CHARS`` were saved as an
        excerpt).
        """
        return [ToolCallRecord.model_validate(r) for t in self.turns for r in t.get("tool_calls", [])]

    def append_turn(self, question: str, messages: list[dict[str, Any]], answer: AgentAnswer) -> None:
        """Add one turn and append it to the journal.

        ``messages`` are the user message and the model's replies and tool messages of this turn, which
        :attr:`messages` replays as history next time. Tool results larger than ``MAX_SAVED_RESULT_CHARS``
        (20,000) are saved as a truncated excerpt. Proposals are saved without their approval token.
        """
        record = {
            "turn": len(self.turns) + 1,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "question": question,
            "messages": messages,
            "status": answer.status,
            "answer": answer.answer,
            "reason": answer.reason,
            "candidates": answer.candidates,
            "evidence": answer.evidence,
            "tool_calls": [_saved_record(c) for c in answer.tool_calls],
            "proposals": [p.model_dump(mode="json") for p in answer.proposals],
            "usage": answer.usage.model_dump(mode="json"),
        }
        self.turns.append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    def append_event(self, kind: str, data: dict[str, Any]) -> None:
        """Record something that happened outside a model turn (an approval, a refusal)."""
        record = {"turn": len(self.turns) + 1, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                  "event": kind, "messages": [], **data}
        self.turns.append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _saved_record(rec: ToolCallRecord) -> dict[str, Any]:
    data = rec.model_dump(mode="json")
    text = json.dumps(data.get("result"), ensure_ascii=False, default=str)
    if len(text) > MAX_SAVED_RESULT_CHARS:
        data["result"] = {"truncated": True, "excerpt": text[:MAX_SAVED_RESULT_CHARS]}
    return data
