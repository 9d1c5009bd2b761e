"""Snapshots taken before a plan is applied, and the undo plans built from them.

Before the executor changes anything (``agent/executor.py``), :func:`take_snapshot` records under
``<state_dir>/snapshots/`` what can be changed: ComfyUI's Python's ``pip freeze`` (when one is
configured or the plan checked one), and every pack folder under ``custom_nodes/`` with its git
commit. After the run, :func:`finish_snapshot` adds, from the journal entries of that run, each
file placed or moved (with its sha256) and each pack installed (with its commit).

``comfyfixer undo PLAN_OR_JOURNAL_ID`` (:func:`plan_undo`) turns a snapshot into **its own plan**
— a plan file with its own content id, approved with ``comfyfixer approve`` and applied with
``comfyfixer apply --token`` like any other — whose actions revert the original ones in reverse
order: the Python environment back to the frozen pins, installed packs into quarantine,
downloaded files into quarantine (deleted only with ``--purge``), links or copies made to keep
another workflow's file removed, moved files moved back. Anything whose hash (or commit) changed
since the apply is left alone and reported: an undo never clobbers the user's edits.
``comfyfixer snapshots`` (:func:`list_snapshots`) lists them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.agent.plan import (
    Action,
    InstallPackAction,
    MoveBackAction,
    Plan,
    PlanPolicy,
    QuarantineAction,
    RemoveCopyAction,
    RestorePythonAction,
    UnlinkPackAction,
    finalize,
    load_plan,
    save_plan,
    summary_lines,
)
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, InputError
from comfyfixer.tools.paths import atomic_write, safe_join
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT: Literal["comfyfixer.snapshot/1"] = "comfyfixer.snapshot/1"
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


class PackState(BaseModel):
    """One folder under ``custom_nodes/`` when the snapshot was taken."""

    path: str = Field(description="Relative to the ComfyUI folder.")
    commit: str | None = Field(default=None, description="Its git commit (None: not a git checkout).")


class PlacedItem(BaseModel):
    """One thing the run put in place (from its journal entry)."""

    item: str = Field(description="The action of the applied plan.")
    kind: Literal["download", "move", "link", "copy", "pack", "pack_link"]
    path: str = Field(description="Where it is now, relative to the ComfyUI folder.")
    source: str | None = Field(default=None, description="For a move, link or copy: where the file was (is); for a "
                               "linked pack: the folder the link points to.")
    sha256: str | None = Field(default=None, description="The file's sha256 right after the run.")
    commit: str | None = Field(default=None, description="For a pack: the commit checked out.")


class Snapshot(BaseModel):
    """What a ComfyUI looked like before one apply, and what that apply placed."""

    format: Literal["comfyfixer.snapshot/1"] = SNAPSHOT_FORMAT
    snapshot_id: str
    plan_id: str
    comfyui_dir: str
    created_at: str
    finished_at: str | None = None
    undo_of: str | None = Field(default=None, description="Set when the applied plan was itself an undo.")
    python: str | None = Field(default=None, description="ComfyUI's Python that was frozen.")
    python_sha256: str | None = None
    pip_freeze: list[str] | None = Field(default=None, description="None: no Python configured, or freeze failed.")
    freeze_problem: str | None = None
    packs: list[PackState] = Field(default_factory=list)
    placed: list[PlacedItem] = Field(default_factory=list)
    journal_entries: list[str] = Field(default_factory=list, description="Ids of the run's journal entries.")


def snapshots_dir(state_dir: Path) -> Path:
    """``<state_dir>/snapshots``."""
    return Path(state_dir) / "snapshots"


def _write(snap: Snapshot, state_dir: Path) -> Path:
    path = snapshots_dir(state_dir) / f"{snap.snapshot_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, snap.model_dump_json(indent=2))
    return path


def plan_python(plan: Plan, configured: Path | None) -> Path | None:
    """The Python a plan touches: the one its pack checks ran in, else the configured one."""
    for a in plan.actions:
        if isinstance(a, InstallPackAction) and a.check and a.check.python:
            return Path(a.check.python)
        if isinstance(a, RestorePythonAction):
            return Path(a.python)
    return configured


def pack_states(comfy: Path) -> list[PackState]:
    """Every folder under ``custom_nodes/`` with its git commit (hardened, read-only git)."""
    from comfyfixer.tools.packs import head_commit

    root = Path(comfy) / "custom_nodes"
    out: list[PackState] = []
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        if not d.is_dir() or d.is_symlink() or d.name.startswith("."):
            continue
        commit = None
        if (d / ".git").exists():
            try:
                commit = head_commit(d)
            except ComfyFixerError as exc:
                log.warning("cannot read the commit of %s: %s", d, exc)
        out.append(PackState(path=f"custom_nodes/{d.name}", commit=commit))
    return out


def take_snapshot(plan: Plan, python: Path | None, state_dir: Path) -> Snapshot:
    """Record the state ``plan`` may change, before it runs (written at once, so a crash keeps it)."""
    from comfyfixer.tools.packs.requirements import pip_freeze, python_identity

    now = datetime.now(UTC)
    snap = Snapshot(snapshot_id=f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{plan.plan_id[:12]}", plan_id=plan.plan_id,
                    comfyui_dir=plan.comfyui_dir, created_at=now.isoformat(timespec="seconds"), undo_of=plan.undo_of,
                    packs=pack_states(Path(plan.comfyui_dir)))
    if python is not None:
        snap.python = str(python)
        try:
            snap.python_sha256 = python_identity(python).sha256
            snap.pip_freeze = pip_freeze(python)
        except ComfyFixerError as exc:
            snap.freeze_problem = str(exc)
            log.warning("the snapshot has no pip freeze: %s", exc)
    _write(snap, state_dir)
    return snap


def finish_snapshot(snap: Snapshot, entries: Iterable[dict[str, Any]], state_dir: Path) -> Snapshot:
    """Add what the run placed (from its journal ``entries``) and write the snapshot again."""
    record_placed(snap, entries)
    snap.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    _write(snap, state_dir)
    return snap


def record_placed(snap: Snapshot, entries: Iterable[dict[str, Any]]) -> Snapshot:
    """Add to ``snap`` (in memory) each file and pack the journal ``entries`` of its run say were placed."""
    from comfyfixer.tools.download import sha256_file

    comfy = Path(snap.comfyui_dir)

    def rel(p: Any) -> str | None:
        try:
            return Path(str(p)).resolve().relative_to(comfy.resolve()).as_posix() if p else None
        except ValueError:
            return None

    def digest(r: str | None) -> str | None:
        path = comfy / r if r else None
        return sha256_file(path) if path is not None and path.is_file() else None

    for e in entries:
        snap.journal_entries.append(str(e.get("id")))
        ins, outs, status = e.get("inputs") or {}, e.get("outputs") or {}, e.get("status")
        item = str(ins.get("item") or "")
        if e.get("action") == "download_model" and status in ("downloaded", "done"):
            where = rel(outs.get("target"))
            if where:
                snap.placed.append(PlacedItem(item=item, kind="download", path=where,
                                              sha256=outs.get("sha256") or digest(where)))
        elif e.get("action") == "move_model" and status == "ok":
            where, src = rel(outs.get("target")), rel(ins.get("source"))
            if where and src:
                kind: Literal["move", "link", "copy"] = (
                    "move" if not outs.get("kept_original") else "link" if outs.get("method") == "hardlink" else "copy")
                snap.placed.append(PlacedItem(item=item, kind=kind, path=where, source=src, sha256=digest(where)))
        elif e.get("action") == "install_node_pack" and status == "installed":
            where = rel(ins.get("target"))
            if where:
                snap.placed.append(PlacedItem(item=item, kind="pack", path=where, commit=outs.get("commit")))
        elif e.get("action") == "link_node_pack" and status == "ok":
            # Not resolved: the link itself is what was placed (it points outside ComfyUI by design).
            link = Path(str(ins.get("target") or ""))
            parent = rel(link.parent) if ins.get("target") else None
            where = f"{parent}/{link.name}" if parent else None
            if where:
                linked = outs.get("method") == "symlink"
                snap.placed.append(PlacedItem(item=item, kind="pack_link" if linked else "pack", path=where,
                                              source=str(ins.get("source")) if linked else None))
    return snap


def _unfinished(snap: Snapshot, state_dir: Path) -> Snapshot:
    """A snapshot whose run never finished (killed): what it placed, read from the journal instead."""
    from comfyfixer.agent.journal import read_journal

    mine = [e for e in read_journal(state_dir) if e.get("plan_id") == snap.plan_id
            and str(e.get("ts", "")) >= snap.created_at]
    return record_placed(snap.model_copy(deep=True), mine)


def load_snapshots(state_dir: Path) -> list[Snapshot]:
    """Every readable snapshot, oldest first (unreadable files are skipped with a warning)."""
    out: list[Snapshot] = []
    folder = snapshots_dir(state_dir)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(Snapshot.model_validate_json(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            log.warning("skipping unreadable snapshot %s: %s", path, exc)
    return out


def find_snapshot(state_dir: Path, ref: str) -> Snapshot:
    """The latest snapshot matching ``ref``: a plan id (or its first 8+ characters), a plan file, a
    snapshot id or the id of a journal entry of that apply."""
    text = ref.strip()
    if text.endswith(".json") and Path(text).is_file():
        text = load_plan(Path(text)).plan_id
    snaps = load_snapshots(state_dir)
    hits = [s for s in snaps if s.snapshot_id == text or text in s.journal_entries
            or (len(text) >= 8 and s.plan_id.startswith(text.lower()))]
    if not hits:
        raise InputError(f"no snapshot of an applied plan matches {ref!r}",
                         hint="`comfyfixer snapshots` lists what can be undone (plans are snapshotted when applied)")
    if len({s.plan_id for s in hits}) > 1:
        raise InputError(f"{ref!r} matches several applied plans", hint="give more characters of the plan id")
    return hits[-1]


# --- the undo plan ------------------------------------------------------------------------------------


class PlanUndoInput(BaseModel):
    """Which applied plan to revert."""

    ref: str = Field(min_length=1, description="The applied plan: its id (8+ characters), its plan file, a snapshot "
                     "id or the id of one of its journal entries.")
    purge: bool = Field(default=False, description="Delete the files the plan downloaded instead of quarantining them.")
    save: bool = Field(default=True, description="Save the undo plan (False: show it only).")


class PlanUndoResult(BaseModel):
    """An undo plan, summarised."""

    plan_file: str | None = Field(description="Where the undo plan was saved; the user approves this file.")
    plan_id: str = Field(description="The undo plan's own content id.")
    undo_of: str = Field(description="The id of the plan it reverts.")
    snapshot_id: str = Field(description="The snapshot it was built from.")
    actions: list[dict[str, Any]] = Field(description="The reverting actions, in the order they run.")
    left_alone: list[str] = Field(default_factory=list, description="What is not reverted, and why (changed since).")
    summary: list[str] = Field(default_factory=list, description="The plan as the user reads it, line by line.")
    next_step: str = Field(description="What the user does to approve and apply it.")


@capability(command="undo")
def plan_undo(inp: PlanUndoInput, ctx: ToolContext) -> PlanUndoResult:
    """Build a plan that reverts an applied fix plan from the snapshot taken before it ran: node packs
    it installed go to quarantine, files it downloaded go to quarantine (deleted only with purge),
    links or copies it made are removed, files it moved are moved back, and ComfyUI's Python is put
    back to the snapshot's pip freeze. Files changed since are left alone and listed. Nothing is
    changed now: the user approves the undo plan with `comfyfixer approve` like any plan."""
    snap = find_snapshot(ctx.state_dir, inp.ref)
    notes = []
    if snap.finished_at is None:
        snap = _unfinished(snap, ctx.state_dir)
        notes.append("the run did not finish: what it placed was read from the journal")
    actions, left = undo_actions(snap, ctx, purge=inp.purge)
    plan = finalize(Plan(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), comfyui_dir=snap.comfyui_dir, actions=actions,
        policy=PlanPolicy(max_download_bytes=ctx.max_download_bytes, max_total_bytes=ctx.max_total_bytes),
        warnings=notes + [f"left alone: {x}" for x in left], undo_of=snap.plan_id))
    path = save_plan(plan, ctx.state_dir) if inp.save else None
    step = ("Nothing to undo." if not plan.actions else "The undo plan was not saved (dry run)." if path is None else
            f"Approve it with `comfyfixer approve {path}` and apply it with `comfyfixer apply {path} --token …`.")
    return PlanUndoResult(plan_file=str(path) if path else None, plan_id=plan.plan_id, undo_of=snap.plan_id,
                          snapshot_id=snap.snapshot_id, actions=[a.model_dump(mode="json") for a in plan.actions],
                          left_alone=left, summary=summary_lines(plan), next_step=step)


def undo_actions(snap: Snapshot, ctx: ToolContext, *, purge: bool = False) -> tuple[list[Action], list[str]]:
    """The actions reverting ``snap``'s run, in reverse order, and what is left alone (with why)."""
    from comfyfixer.tools.download import sha256_file
    from comfyfixer.tools.packs import head_commit

    comfy = Path(snap.comfyui_dir)
    actions: list[Action] = []
    left: list[str] = []
    python = _restore_python(snap, ctx, left)
    if python is not None:
        actions.append(python)
    for p in reversed(snap.placed):
        if p.kind == "pack_link":
            actions.extend(_unlink_action(comfy, p, left))
            continue
        try:
            here = safe_join(comfy, p.path, what="undo path")
        except ComfyFixerError as exc:
            left.append(f"{p.path}: {exc}")
            continue
        if not here.exists():
            left.append(f"{p.path} is gone already (nothing to undo for {p.item})")
            continue
        if p.kind == "pack":
            try:
                now = head_commit(here)
            except ComfyFixerError:
                now = None
            if p.commit and now != p.commit:
                left.append(f"{p.path} is no longer at commit {p.commit[:12]} (now {now[:12] if now else 'unknown'}): "
                            "left alone")
                continue
            actions.append(QuarantineAction(item=f"undo:{p.item}", path=p.path, what="pack", commit=p.commit,
                                            undoes=p.item))
            continue
        if not here.is_file() or (p.sha256 and sha256_file(here) != p.sha256):
            left.append(f"{p.path} changed since the plan was applied: left alone")
            continue
        if p.kind == "download":
            actions.append(QuarantineAction(item=f"undo:{p.item}", path=p.path, what="file", sha256=p.sha256,
                                            purge=purge, undoes=p.item))
        elif p.kind == "move" and p.source:
            if (comfy / p.source).exists():
                left.append(f"{p.source} exists again: {p.path} is not moved back over it")
                continue
            actions.append(MoveBackAction(item=f"undo:{p.item}", source=p.path, target=p.source, sha256=p.sha256,
                                          undoes=p.item))
        elif p.source:
            actions.append(RemoveCopyAction(item=f"undo:{p.item}", path=p.path, original=p.source, sha256=p.sha256,
                                            undoes=p.item))
    return actions, left


def _unlink_action(comfy: Path, p: PlacedItem, left: list[str]) -> list[Action]:
    """Remove a pack link ``install-nodes`` made, while it still points where it did (the link itself is
    checked, not followed: it points outside ComfyUI by design)."""
    link = PurePosixPath(p.path)
    try:
        here = safe_join(comfy, str(link.parent), what="undo path") / link.name
    except ComfyFixerError as exc:
        left.append(f"{p.path}: {exc}")
        return []
    if not here.is_symlink():
        left.append(f"{p.path} is {'no longer a link' if here.exists() else 'gone already'}: left alone")
        return []
    if not p.source or Path(os.readlink(here)).resolve() != Path(p.source).resolve():
        left.append(f"{p.path} no longer links {p.source}: left alone")
        return []
    return [UnlinkPackAction(item=f"undo:{p.item}", path=p.path, source=p.source, undoes=p.item)]


def _restore_python(snap: Snapshot, ctx: ToolContext, left: list[str]) -> RestorePythonAction | None:
    """Pins that differ from the snapshot's freeze, and packages added since, checked like a pack's requirements."""
    from packaging.utils import canonicalize_name

    from comfyfixer.tools.packs.requirements import pip_freeze, python_identity

    if snap.python is None:
        return None
    if snap.pip_freeze is None:
        left.append(f"ComfyUI's Python: the snapshot has no pip freeze ({snap.freeze_problem or 'unknown'})")
        return None
    python = Path(snap.python)
    try:
        ident = python_identity(python)
        now = pip_freeze(python)
    except ComfyFixerError as exc:
        left.append(f"ComfyUI's Python {python} cannot be asked what it has: {exc}")
        return None
    if snap.python_sha256 and ident.sha256 != snap.python_sha256:
        left.append(f"ComfyUI's Python {python} is another interpreter than when the plan was applied: not restored")
        return None

    def by_name(lines: list[str]) -> dict[str, str]:
        out = {}
        for line in lines:
            m = _NAME.match(line)
            key = str(canonicalize_name(m.group(1))) if m else line.lower()
            out[key] = line
        return out

    before, after = by_name(snap.pip_freeze), by_name(now)
    install = [line for name, line in sorted(before.items()) if after.get(name) != line]
    uninstall = sorted(_NAME.match(line).group(1) for name, line in after.items()  # type: ignore[union-attr]
                       if name not in before and _NAME.match(line))
    left += [f"ComfyUI's Python: {line} was added since and is not a plain pin: remove it yourself"
             for name, line in after.items() if name not in before and not _NAME.match(line)]
    if not install and not uninstall:
        return None
    action = RestorePythonAction(python=str(python), python_sha256=ident.sha256, uninstall=uninstall,
                                 index_url=ctx.pip_index_url)
    if install:
        scratch = Path(ctx.cache_dir) / "packs" / ".undo" / snap.snapshot_id
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            _check_restore(action, install, scratch, python, ident, ctx, left)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if not action.install and not action.uninstall:
        return None
    return action


def _check_restore(action: RestorePythonAction, install: list[str], scratch: Path, python: Path, ident: Any,
                   ctx: ToolContext, left: list[str]) -> None:
    """The frozen pins through a pack's checks: refused lines reported, the rest dry-run (GPU stack named)."""
    from comfyfixer.tools.packs.requirements import check_requirements, parse_requirements

    atomic_write(scratch / "requirements.txt", "".join(line + "\n" for line in install))
    parsed = parse_requirements(scratch)  # the same refusals as a pack's requirements (URLs, options)
    left += [f"ComfyUI's Python: `{i.text}` is not restored ({i.reason})" for i in parsed.refused]
    action.install = list(parsed.requirements)
    if not action.install:
        return
    try:
        found = check_requirements({"snapshot": parsed}, python, staging_dir=scratch,
                                   allowed_roots=[Path(ctx.cache_dir)], index_url=ctx.pip_index_url, identity=ident)
    except ComfyFixerError as exc:
        action.confirm.append(f"the restore could not be dry-run: {exc}")
        return
    action.changes = list(found.changes)
    action.guarded = sorted({c.name for c in found.guarded})
    if found.conflicts or not found.dry_run_ok:
        action.confirm += [r for r in found.reasons if not r.startswith("would change")]
    if action.guarded:
        action.confirm.append(f"changes {', '.join(action.guarded)} (ComfyUI's GPU stack) back to the "
                              "snapshot's version — name it to accept: --confirm python")


# --- listing ------------------------------------------------------------------------------------------


class ListSnapshotsInput(BaseModel):
    """Which snapshots to list."""

    limit: int = Field(default=50, ge=1, le=1000, description="At most this many, newest first.")


class SnapshotSummary(BaseModel):
    """One snapshot, in a line."""

    snapshot_id: str
    plan_id: str
    created_at: str
    finished: bool = Field(description="The run finished (what it placed is recorded).")
    undo_of: str | None = None
    comfyui_dir: str
    python: str | None = None
    pip_freeze_lines: int | None = None
    packs: int = Field(description="Pack folders recorded.")
    placed: int = Field(description="Files and packs the run placed.")
    undo_command: str


class ListSnapshotsResult(BaseModel):
    """The snapshots kept under the state folder."""

    snapshots: list[SnapshotSummary] = Field(default_factory=list)


@capability(command="snapshots")
def list_snapshots(inp: ListSnapshotsInput, ctx: ToolContext) -> ListSnapshotsResult:
    """List the snapshots taken before each applied plan (newest first): when, which plan, which ComfyUI,
    how many packages were frozen and how many files and packs the run placed, and the `comfyfixer undo`
    command that reverts it."""
    snaps = load_snapshots(ctx.state_dir)[::-1][: inp.limit]
    return ListSnapshotsResult(snapshots=[SnapshotSummary(
        snapshot_id=s.snapshot_id, plan_id=s.plan_id, created_at=s.created_at, finished=s.finished_at is not None,
        undo_of=s.undo_of, comfyui_dir=s.comfyui_dir, python=s.python,
        pip_freeze_lines=len(s.pip_freeze) if s.pip_freeze is not None else None, packs=len(s.packs),
        placed=len(s.placed), undo_command=f"comfyfixer undo {s.plan_id[:12]}") for s in snaps])

