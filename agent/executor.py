"""Runs an approved plan: moves, downloads (bounded concurrency), node packs; one failure never stops the rest.

Every change on disk is journaled (one JSONL entry + one audit line) with the paths touched,
their existence before and after, and hashes. Downloads show a progress bar per file and
overall on stderr. ``dry_run`` reports what would happen and changes nothing.

The user's files are never taken away or overwritten:

* A move never takes a model from a place where another known workflow still loads it. "Known
  workflows" are the plan's ``workflows``, ``known_workflows`` given to the :class:`Executor`
  (e.g. every workflow the readiness check saw) and the workflows saved in ComfyUI itself
  (``<ComfyUI>/user/*/workflows/**/*.json``, where its UI keeps them). If one of them loads the file where it is now (by
  ComfyUI's folder table; by name alone for a loader whose folder is unknown, or for a file outside
  the standard folders), or a workflow given to it exists but cannot be read (a ``.json`` in ComfyUI's
  folder that is no workflow is skipped), the file is *kept* and a hard link
  (same device) or a copy verified by size and sha256 is put at the new place instead. A move that
  crosses devices is likewise a verified copy first, and the original is removed only afterwards.
* A download whose target already holds a different file (not the expected hash or size) keeps
  that file: the download goes beside it as ``<stem> (comfyfixer N)<suffix>`` (the first free N;
  the suffix is kept so ComfyUI still lists it) and the outcome reports the conflict in its
  message and in ``details["conflict"]``. The workflow still names the original file, so the user
  decides which one to keep.

Before a run changes anything, a snapshot is recorded (``agent/snapshots.py``: ComfyUI's Python's
``pip freeze``, the pack folders and their commits; after the run, what it placed with sha256), so
``comfyfixer undo`` can plan the way back. A pack's requirements are installed only with the Python
the plan checked (refused when its sha256 changed), from the plan's index, constrained to the plan's
pins. Undo plans' steps (quarantine, move back, remove a copy, restore the Python) leave anything
that changed since the original apply alone and report it (``left_alone``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.agent.config import Settings
from comfyfixer.agent.journal import Journal, path_state
from comfyfixer.agent.plan import (
    CoreUpdateAction,
    DownloadAction,
    InstallPackAction,
    LinkPackAction,
    MoveAction,
    MoveBackAction,
    Plan,
    QuarantineAction,
    RestorePythonAction,
    UndoAction,
    UnlinkPackAction,
    resolve_target,
)
from comfyfixer.tools.errors import ComfyFixerError, IntegrityError
from comfyfixer.tools.paths import MAX_COMPONENT, atomic_write, safe_filename, safe_join

log = logging.getLogger(__name__)

# left_alone: an undo step found the file changed since the plan was applied (a user's edit is kept)
OutcomeStatus = Literal["done", "already_done", "failed", "manual", "dry_run", "left_alone"]
ModelRefs = Callable[[Path], Iterable[tuple[str | None, str]]]
CONFLICT_LIMIT = 20  # "x (comfyfixer 1)" … "x (comfyfixer 20)"; past that something is wrong


class ActionOutcome(BaseModel):
    item: str
    kind: str
    status: OutcomeStatus
    message: str = ""
    error_type: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ExecutionReport(BaseModel):
    plan_id: str
    dry_run: bool = False
    started_at: str
    finished_at: str = ""
    outcomes: list[ActionOutcome] = Field(default_factory=list)
    recheck: dict[str, Any] | None = None
    snapshot_id: str | None = Field(default=None, description="The snapshot taken before the run (`comfyfixer undo`).")

    @property
    def failed(self) -> list[ActionOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def host_policy(settings: Settings) -> Any:
    """The download host policy from settings (allow-list additions, origin-bound tokens):
    :meth:`HostPolicy.for_services`, the one place that binds the tokens."""
    from comfyfixer.tools.download import HostPolicy

    return HostPolicy.for_services(
        settings.allowed_hosts, civitai_base_url=settings.civitai_base_url,
        civitai_token=settings.secret("civitai_token"), hf_endpoint=settings.hf_endpoint,
        hf_token=settings.secret("hf_token"))


class _FileProgress:
    """Adapts the engine's progress callbacks to a rich task (per file) plus the overall task."""

    def __init__(self, bars: Any, task: Any, overall: Any, on_event: Any) -> None:
        self.bars, self.task, self.overall = bars, task, overall
        self._started = False
        self._on_event = on_event

    def start(self, total: int | None, completed: int) -> None:
        self.bars.update(self.task, total=total, completed=completed)
        if not self._started and completed:
            self.bars.advance(self.overall, completed)
        self._started = True

    def advance(self, n: int) -> None:
        self.bars.advance(self.task, n)
        self.bars.advance(self.overall, n)

    def event(self, kind: str, details: dict[str, Any]) -> None:
        self._on_event(kind, details)


class Executor:
    """Executes one plan against the ComfyUI folder it names."""

    def __init__(self, plan: Plan, settings: Settings, journal: Journal, *, dry_run: bool = False,
                 concurrency: int = 2, show_progress: bool = True, retry: Any = None,
                 known_workflows: Sequence[str | Path] = (), model_refs: ModelRefs | None = None,
                 saved_workflows: bool = True, snapshot: bool = True) -> None:
        """``known_workflows``: workflows besides the plan's whose models a move must not take away
        (e.g. all the readiness check saw). ``model_refs(path)`` lists a workflow's ``(folder key or
        None, file name)`` pairs; the default inspects the file (:func:`workflow_model_refs`).
        ``saved_workflows``: also count the workflows saved in ComfyUI's ``user/*/workflows``.
        ``snapshot``: record a snapshot before changing anything (``agent/snapshots.py``), so the
        run can be undone with ``comfyfixer undo``."""
        self.plan = plan
        self.settings = settings
        self.journal = journal
        self.dry_run = dry_run
        self.concurrency = max(1, concurrency)
        self.show_progress = show_progress
        self.retry = retry
        self.comfy = Path(plan.comfyui_dir)
        self._lock = threading.Lock()
        self._given_workflows = [*plan.workflows, *map(str, known_workflows)]
        self._saved_workflows = saved_workflows
        self._known: list[str] | None = None
        self._discovered: set[str] = set()
        self._model_refs = model_refs or workflow_model_refs
        self._refs: dict[str, list[tuple[str | None, str]] | None] = {}
        self._snapshot = snapshot

    def run(self) -> ExecutionReport:
        report = ExecutionReport(plan_id=self.plan.plan_id, dry_run=self.dry_run,
                                 started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        if not self.comfy.is_dir():
            raise ComfyFixerError(f"ComfyUI folder {self.comfy} does not exist",
                                  hint="the plan names a ComfyUI folder that is gone; run `comfyfixer fix` again")
        snap = None
        if not self.dry_run:
            if self._snapshot and self.plan.actions:
                snap = self._take_snapshot()
                report.snapshot_id = snap.snapshot_id
            started = self.journal.append(
                "apply_started", plan_id=self.plan.plan_id,
                inputs={"actions": [a.item for a in self.plan.actions], "comfyui_dir": str(self.comfy),
                        "snapshot": snap.snapshot_id if snap else None})
            if snap is not None:
                self._journal_snapshot(snap)
        outcomes: dict[str, ActionOutcome] = {}
        for a in self.plan.actions:  # an undo plan's steps, in its (reverse) order, one after the other
            if isinstance(a, UndoAction):
                outcomes[a.item] = self._guard(a.item, a.kind, lambda a=a: self._undo(a))
        for a in self.plan.actions:
            if isinstance(a, MoveAction):
                outcomes[a.item] = self._guard(a.item, a.kind, lambda a=a: self._move(a))
        downloads = [a for a in self.plan.actions if isinstance(a, DownloadAction)]
        if downloads:
            for item, outcome in self._downloads(downloads).items():
                outcomes[item] = outcome
        for a in self.plan.actions:
            if isinstance(a, InstallPackAction):
                outcomes[a.item] = self._guard(a.item, a.kind, lambda a=a: self._pack(a))
            elif isinstance(a, LinkPackAction):
                outcomes[a.item] = self._guard(a.item, a.kind, lambda a=a: self._link_pack(a))
            elif isinstance(a, CoreUpdateAction):
                outcomes[a.item] = ActionOutcome(
                    item=a.item, kind=a.kind, status="manual",
                    message="update ComfyUI yourself: " + "; ".join(" ".join(c) for c in a.commands))
        report.outcomes = [outcomes[a.item] for a in self.plan.actions if a.item in outcomes]
        report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        if not self.dry_run:
            counts: dict[str, int] = {}
            for o in report.outcomes:
                counts[o.status] = counts.get(o.status, 0) + 1
            self.journal.append("apply_finished", plan_id=self.plan.plan_id, outputs={"counts": counts},
                                status="ok" if not report.failed else "partial")
            if snap is not None:
                self._finish_snapshot(snap, started["id"])
        return report

    def _take_snapshot(self) -> Any:
        """The state before the run (pip freeze, pack commits); a failure to write it stops the run."""
        from comfyfixer.agent.snapshots import plan_python, take_snapshot

        return take_snapshot(self.plan, plan_python(self.plan, self.settings.comfyui_python), self.settings.state_dir)

    def _journal_snapshot(self, snap: Any) -> None:
        self.journal.append("snapshot", plan_id=self.plan.plan_id,
                            outputs={"snapshot": snap.snapshot_id, "python": snap.python,
                                     "pip_freeze": len(snap.pip_freeze) if snap.pip_freeze is not None else None,
                                     "packs": len(snap.packs)},
                            message=f"snapshot {snap.snapshot_id} before applying"
                            + (f" (no pip freeze: {snap.freeze_problem})" if snap.freeze_problem else ""))

    def _finish_snapshot(self, snap: Any, started_id: str) -> None:
        """Record in the snapshot what this run placed, from its own journal entries."""
        from comfyfixer.agent.snapshots import finish_snapshot

        entries = list(self.journal.entries())
        start = next((i for i, e in enumerate(entries) if e.get("id") == started_id), len(entries))
        mine = [e for e in entries[start:] if e.get("plan_id") == self.plan.plan_id]
        try:
            finish_snapshot(snap, mine, self.settings.state_dir)
        except (ComfyFixerError, OSError) as exc:  # the run is done; say the snapshot is incomplete
            log.warning("could not complete snapshot %s: %s", snap.snapshot_id, exc)

    # --- helpers ------------------------------------------------------------------------------
    def _guard(self, item: str, kind: str, fn: Any) -> ActionOutcome:
        try:
            outcome: ActionOutcome = fn()
            return outcome
        except Exception as exc:  # one action's failure never stops the others
            msg = str(exc) if isinstance(exc, ComfyFixerError) else f"{exc.__class__.__name__}: {exc}"
            if isinstance(exc, ComfyFixerError | OSError):
                log.info("%s failed: %s", item, msg)
            else:
                log.exception("%s failed unexpectedly", item)
            if not self.dry_run:
                self.journal.append(kind, plan_id=self.plan.plan_id, inputs={"item": item}, status="failed",
                                    message=msg)
            return ActionOutcome(item=item, kind=kind, status="failed", message=msg,
                                 error_type=type(exc).__name__)

    def _move(self, a: MoveAction) -> ActionOutcome:
        src = resolve_target(self.plan, a.source)
        dst = resolve_target(self.plan, a.target)
        before = path_state(src, dst)
        users = self._users_at(a.source, a.target)
        if self.dry_run:
            how = f"would place a link or copy at {dst} and keep {src} ({_who(users)} uses it)" if users else \
                f"would move {src} → {dst}"
            return ActionOutcome(item=a.item, kind=a.kind, status="dry_run", message=how)
        if not src.is_file():
            if dst.is_file():
                return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{dst} is in place")
            raise ComfyFixerError(f"{src} is gone; nothing to move")
        if dst.exists() or dst.is_symlink():
            if dst.is_file() and not dst.is_symlink() and _same_bytes(src, dst):  # an earlier run kept the original
                return ActionOutcome(item=a.item, kind=a.kind, status="already_done",
                                     message=f"{a.target} is in place; {a.source} is kept")
            raise ComfyFixerError(f"{dst} already exists; not overwriting it", hint="compare the two files yourself")
        dst.parent.mkdir(parents=True, exist_ok=True)
        method = link_or_copy(src, dst)
        if not users:
            os.unlink(src)  # only now: the new place holds the same bytes (same inode, or a verified copy)
        size = dst.stat().st_size
        outputs = {"target": dst, "size": size, "method": method, "kept_original": bool(users), "used_by": users}
        self.journal.append("move_model", plan_id=self.plan.plan_id, inputs={"item": a.item, "source": src},
                            outputs=outputs, before=before, after=path_state(src, dst),
                            message=(f"{'linked' if method == 'hardlink' else 'copied'} {a.source} → {a.target}, "
                                     f"kept the original for {_who(users)}") if users else
                            f"moved {a.source} → {a.target}")
        if users:
            placed = "hard-linked" if method == "hardlink" else "copied (size and sha256 verified)"
            msg = f"{placed} to {a.target}; kept {a.source} because {_who(users)} loads it there"
        else:
            msg = f"moved to {a.target}" + (" (copied across devices, verified, then removed)" if method == "copy" else "")
        return ActionOutcome(item=a.item, kind=a.kind, status="done", message=msg,
                             details={"method": method, "kept_original": bool(users), "used_by": users})

    @property
    def known_workflows(self) -> list[str]:
        """The workflows a move must keep working (listed on first use: only plans with moves need it)."""
        if self._known is None:
            found = list(self._given_workflows)
            if self._saved_workflows:
                saved = [w for w in saved_workflow_files(self.comfy) if w not in found]
                self._discovered = set(saved)
                found += saved
            self._known = list(dict.fromkeys(found))
        return self._known

    def _users_at(self, source: str, target: str) -> list[str]:
        """Known workflows that load the file at ``source`` (a path under the ComfyUI folder) from there."""
        users: list[str] = []
        for wf in self.known_workflows:
            refs = self._workflow_refs(wf)
            if refs is None and wf in self._discovered:
                continue  # a .json in ComfyUI's workflows folder that is no workflow: not a user
            if refs is None or any(_loads_from(folder, name, source, target) for folder, name in refs):
                users.append(wf)
        return users

    def _workflow_refs(self, wf: str) -> list[tuple[str | None, str]] | None:
        """The workflow's model references, or None when it cannot be read (then it counts as a user).

        A workflow file that no longer exists loads nothing, so it uses nothing.
        """
        if wf not in self._refs:
            if not Path(wf).exists():
                self._refs[wf] = []
                return self._refs[wf]
            try:
                self._refs[wf] = list(self._model_refs(Path(wf)))
            except (ComfyFixerError, OSError, ValueError) as exc:
                log.warning("cannot read workflow %s (%s)", wf, exc)
                self._refs[wf] = None
        return self._refs[wf]

    def _downloads(self, actions: list[DownloadAction]) -> dict[str, ActionOutcome]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        from comfyfixer.agent.output import err_console
        from comfyfixer.tools.download import Downloader
        from comfyfixer.tools.http import RetryPolicy

        if self.dry_run:  # no hashing here: a file already at the target is only mentioned
            return {a.item: ActionOutcome(
                item=a.item, kind=a.kind, status="dry_run",
                message=f"would download {a.url.split('?')[0]} → {a.target}" + (
                    "; a file is already there: it is kept, and if it differs the download goes beside it"
                    if resolve_target(self.plan, a.target).exists() else ""))
                    for a in actions}
        retry = self.retry or RetryPolicy(retries=self.settings.http_retries, base=0.5, cap=30.0)
        results: dict[str, ActionOutcome] = {}
        bars = Progress(
            TextColumn("{task.description}", justify="left"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(),
            console=err_console, disable=not self.show_progress, transient=False,
        )
        total = sum(a.size or 0 for a in actions) or None
        with bars, Downloader(host_policy(self.settings), timeout=self.settings.http_timeout, retry=retry) as dl:
            overall = bars.add_task("[bold]total", total=total)

            def one(a: DownloadAction) -> ActionOutcome:
                task = bars.add_task(a.name[-40:], total=a.size)
                return self._guard(a.item, a.kind, lambda: self._download(dl, a, _FileProgress(
                    bars, task, overall, lambda kind, d: self._event(a, kind, d))))

            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="download") as pool:
                for a, outcome in zip(actions, pool.map(one, actions), strict=True):
                    results[a.item] = outcome
        return results

    def _event(self, a: DownloadAction, kind: str, details: dict[str, Any]) -> None:
        paths = [p for p in (details.get("path"), details.get("moved_to")) if p]
        self.journal.append(kind, plan_id=self.plan.plan_id, inputs={"item": a.item}, outputs=details,
                            before={str(p): p == details.get("path") for p in paths}, after=path_state(*paths),
                            message=f"quarantined {Path(str(details.get('path'))).name}: {details.get('reason', '')}")

    def _download(self, dl: Any, a: DownloadAction, progress: _FileProgress) -> ActionOutcome:
        from comfyfixer.tools.download import (
            DownloadRequest,
            quarantine_dir_for,
            rounded_size_tolerance,
            staging_dir_for,
        )
        from comfyfixer.tools.download.staging import TargetAppeared

        target = resolve_target(self.plan, a.target)
        conflict = self._conflict(a, target)  # a different file at the target is the user's: go beside it
        if conflict is not None:
            target = resolve_target(self.plan, conflict["placed_at"])
        before = path_state(target)
        over_cap_confirmed = any("cap" in c for c in a.confirm)
        req = DownloadRequest(
            url=a.url, target=target, allowed_roots=[self.comfy],
            staging_dir=staging_dir_for(target, self.comfy), quarantine_dir=quarantine_dir_for(target, self.comfy),
            expected_size=a.size if a.size_exact else None, expected_sha256=a.sha256, item=a.item,
            approx_size=None if a.size_exact else a.size, size_tolerance=rounded_size_tolerance(a.source),
            max_bytes=None if over_cap_confirmed else self.settings.max_download_bytes, label=a.name,
            allow_unsafe_pickle=a.allow_unsafe_pickle,
        )
        try:
            res = dl.download(req, progress)
        except TargetAppeared as exc:  # a file took the name while we downloaded: it stays, ours goes beside it
            return self._appeared(a, exc)
        except ComfyFixerError as exc:
            self.journal.append("download_model", plan_id=self.plan.plan_id, status="failed", message=str(exc),
                                inputs=_download_inputs(a), before=before, after=path_state(target))
            return ActionOutcome(item=a.item, kind=a.kind, status="failed", message=str(exc),
                                 error_type=type(exc).__name__)
        outputs = res.model_dump(mode="json")
        placed = conflict["placed_at"] if conflict else a.target
        if conflict:
            outputs["conflict"] = conflict
        status: OutcomeStatus = "done" if res.status == "downloaded" else "already_done"
        self.journal.append("download_model", plan_id=self.plan.plan_id, inputs=_download_inputs(a), outputs=outputs,
                            before=before, after=path_state(target), status=res.status,
                            message=f"{res.status} {placed} sha256={res.sha256[:16]} ({res.sha256_checked_against})"
                            + (f"; kept the different file at {a.target}" if conflict else ""))
        msg = (f"{placed}: {res.size} bytes, sha256 {res.sha256[:12]}… "
               + ("verified" if res.sha256_checked_against != "none" else "recorded (source gave no hash)"))
        if res.resumed_from:
            msg += f", resumed at {res.resumed_from}"
        if conflict:
            msg = (f"CONFLICT: {a.target} already holds a different file ({conflict['existing']}); kept it untouched "
                   f"and placed the download beside it. {msg}. The workflow still loads {PurePosixPath(a.target).name}: "
                   "compare the two and rename one yourself")
        return ActionOutcome(item=a.item, kind=a.kind, status=status, message=msg, details=outputs)

    def _appeared(self, a: DownloadAction, exc: Any) -> ActionOutcome:
        """The verified download is staged but its name was taken meanwhile: adopt it under a free name."""
        from comfyfixer.tools.download.staging import adopt, discard

        conflict = self._conflict(a, exc.target)
        alt = resolve_target(self.plan, conflict["placed_at"]) if conflict else None
        before = path_state(*(p for p in (exc.target, alt) if p is not None))
        if alt is None or alt.exists():  # what is there now already is the planned file
            discard(exc.staged)
            status: OutcomeStatus = "already_done"
            where = conflict["placed_at"] if conflict else a.target
            msg = f"{where} appeared while downloading and already holds the planned file; dropped our copy"
        else:
            adopt(exc.staged, alt)
            status = "done"
            msg = ""
        outputs: dict[str, Any] = {"target": str(alt or exc.target), "appeared_while_downloading": True}
        if conflict:
            outputs["conflict"] = conflict
            if status == "done":
                msg = (f"CONFLICT: {a.target} appeared while downloading and holds a different file "
                       f"({conflict['existing']}); kept it untouched and placed the verified download at "
                       f"{conflict['placed_at']}. The workflow still loads {PurePosixPath(a.target).name}: "
                       "compare the two and rename one yourself")
        self.journal.append("download_model", plan_id=self.plan.plan_id, inputs=_download_inputs(a), outputs=outputs,
                            before=before, after=path_state(*before), status=status, message=msg)
        return ActionOutcome(item=a.item, kind=a.kind, status=status, message=msg, details=outputs)

    def _conflict(self, a: DownloadAction, target: Path) -> dict[str, Any] | None:
        """None when the target is free or already holds the expected file; else where the download goes instead.

        The expected file is the plan's sha256 if it has one, else its exact size (the engine's rule for a
        file that is already present). The new place is the first ``<stem> (comfyfixer N)<suffix>`` that is
        free or already holds the expected file (an earlier run of the same plan put it there).
        """
        if not target.is_file() or target.is_symlink():
            return None  # nothing there (or not a regular file: the engine refuses it, untouched)
        same, existing = _holds_expected(a, target)
        if same:
            return None
        rel = PurePosixPath(a.target)
        for n in range(1, CONFLICT_LIMIT + 1):
            tail = f" (comfyfixer {n}){rel.suffix}"
            room = MAX_COMPONENT - len(tail.encode("utf-8"))  # a long name is shortened, not refused
            stem = rel.stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .")
            name = safe_filename(stem + tail, what="conflict file name")
            alt_rel = str(rel.with_name(name))
            alt = resolve_target(self.plan, alt_rel)
            if (not alt.exists() and not alt.is_symlink()) or (alt.is_file() and _holds_expected(a, alt)[0]):
                log.warning("%s holds a different file (%s); placing the download at %s", target, existing, alt)
                return {"kept": a.target, "existing": existing, "placed_at": alt_rel}
        raise ComfyFixerError(f"{a.target} and {CONFLICT_LIMIT} alternative names beside it hold other files",
                              hint="tidy that folder, then run the plan again")

    def _pack(self, a: InstallPackAction) -> ActionOutcome:
        from comfyfixer.tools.download.staging import staging_dir_for
        from comfyfixer.tools.packs import PackInstallRequest, install_pack
        from comfyfixer.tools.packs.requirements import verify_python

        target = safe_join(self.comfy, a.target, what="node pack folder")
        if self.dry_run:
            return ActionOutcome(item=a.item, kind=a.kind, status="dry_run",
                                 message="would run: " + "; ".join(" ".join(c) for c in a.commands))
        before = path_state(target)
        check = a.check
        # the Python the plan checked and the user approved, not whatever the settings say today
        python = Path(check.python) if check and check.python else self.settings.comfyui_python
        expected = check.python_sha256 if check else None
        if python is not None and expected:
            try:  # before cloning: a changed interpreter must not leave a pack without its requirements
                verify_python(expected, python)
            except ComfyFixerError as exc:
                raise ComfyFixerError(f"{a.pack_id} not installed: {exc.message}", hint=exc.hint) from None
        # a plan's action is only here if the user approved it, so a listed sdist was confirmed
        req = PackInstallRequest(repo_url=a.repo_url, commit=a.commit, target=target,
                                 staging_dir=staging_dir_for(target, self.comfy), allowed_roots=[self.comfy],
                                 python=python, index_url=(check.index_url if check and check.index_url
                                                           else self.settings.pip_index_url),
                                 allow_sdist=bool(check and check.needs_sdist), expected_python_sha256=expected,
                                 constraints=list(check.resolved) if check else [])
        try:
            res = install_pack(req, host_policy(self.settings))
        except ComfyFixerError as exc:
            self.journal.append("install_node_pack", plan_id=self.plan.plan_id, status="failed", message=str(exc),
                                inputs={"item": a.item, "repo": a.repo_url, "commit": a.commit, "target": target},
                                before=before, after=path_state(target))
            return ActionOutcome(item=a.item, kind=a.kind, status="failed", message=str(exc),
                                 error_type=type(exc).__name__)
        self.journal.append("install_node_pack", plan_id=self.plan.plan_id,
                            inputs={"item": a.item, "repo": a.repo_url, "commit": a.commit, "target": target},
                            outputs=res.model_dump(mode="json"), before=before, after=path_state(target),
                            status=res.status, message=f"{res.status} {a.pack_id} @ {res.commit[:12]}")
        msg = f"{a.pack_id} @ {res.commit[:12]} in {a.target}"
        if res.pending_commands:
            msg += "; run yourself: " + "; ".join(" ".join(c) for c in res.pending_commands)
        status: OutcomeStatus = "done" if res.status == "installed" else "already_done"
        return ActionOutcome(item=a.item, kind=a.kind, status=status, message=msg, details=res.model_dump(mode="json"))


    # --- undo steps (plans made by `comfyfixer undo`) ---------------------------------------------

    def _link_pack(self, a: LinkPackAction) -> ActionOutcome:
        """Link or copy a local pack folder into custom_nodes; an existing target is never replaced."""
        # The folder is checked to stay inside ComfyUI; the last part may itself be our link, which by design
        # points outside, so it is not resolved.
        target = PurePosixPath(a.target)
        from comfyfixer.tools.paths import safe_filename

        src = Path(a.source)
        dst = resolve_target(self.plan, str(target.parent)) / safe_filename(target.name, what="pack folder name")
        if not (src / "__init__.py").is_file():
            raise ComfyFixerError(f"{src} is not a node pack folder (no __init__.py)",
                                  hint="make the plan again from this checkout")
        if dst.is_symlink() and dst.resolve() == src.resolve():
            return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{dst} already links {src}")
        if dst.exists() or dst.is_symlink():
            why = f"left alone: {dst} already exists and is not a link to {src}; remove it to install"
            if not self.dry_run:
                self.journal.append(a.kind, plan_id=self.plan.plan_id, inputs={"item": a.item}, status="left_alone",
                                    message=why)
            return ActionOutcome(item=a.item, kind=a.kind, status="left_alone", message=why)
        if self.dry_run:
            return ActionOutcome(item=a.item, kind=a.kind, status="dry_run", message=f"would {a.method} {src} → {dst}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if a.method == "symlink":
            os.symlink(src, dst, target_is_directory=True)
        else:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        self.journal.append("link_node_pack", plan_id=self.plan.plan_id, inputs={"item": a.item, "source": str(src),
                            "target": str(dst)}, outputs={"method": a.method}, status="ok",
                            message=f"{a.method} {src} → {dst}")
        return ActionOutcome(item=a.item, kind=a.kind, status="done", message=f"{a.method} {src} → {dst}")

    def _undo(self, a: UndoAction) -> ActionOutcome:
        """One reverting step. Anything that changed since the original apply is left alone and said so."""
        if self.dry_run:
            return ActionOutcome(item=a.item, kind=a.kind, status="dry_run", message=f"would undo {a.undoes}")
        if isinstance(a, RestorePythonAction):
            return self._restore_python(a)
        if isinstance(a, UnlinkPackAction):
            return self._unlink_pack(a)
        if isinstance(a, QuarantineAction):
            return self._quarantine(a)
        if isinstance(a, MoveBackAction):
            src, dst = resolve_target(self.plan, a.source), resolve_target(self.plan, a.target)
            if not src.is_file() and dst.is_file():
                return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{a.target} is back")
            changed = self._changed(src, a.sha256)
            if changed or dst.exists() or dst.is_symlink():
                return self._left_alone(a, changed or f"{a.target} exists again; not moving {a.source} over it")
            before = path_state(src, dst)
            dst.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(src, dst)
            os.unlink(src)
            self._journal_undo(a, before, path_state(src, dst), {"source": src, "target": dst, "sha256": a.sha256},
                               f"moved {a.source} back to {a.target}")
            return ActionOutcome(item=a.item, kind=a.kind, status="done", message=f"moved back to {a.target}")
        path, original = resolve_target(self.plan, a.path), resolve_target(self.plan, a.original)
        if not path.exists():
            return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{a.path} is gone")
        changed = self._changed(path, a.sha256)
        if changed or not original.is_file():
            return self._left_alone(a, changed or f"the original {a.original} is gone, so {a.path} is kept")
        before = path_state(path)
        os.unlink(path)
        self._journal_undo(a, before, path_state(path), {"path": path, "original": original, "sha256": a.sha256},
                           f"removed the link/copy {a.path} (the original {a.original} stays)")
        return ActionOutcome(item=a.item, kind=a.kind, status="done", message=f"removed {a.path}")

    def _unlink_pack(self, a: UnlinkPackAction) -> ActionOutcome:
        # The last part is our link and by design points outside ComfyUI, so only its folder is resolved.
        target = PurePosixPath(a.path)
        path = resolve_target(self.plan, str(target.parent)) / safe_filename(target.name, what="pack folder name")
        if not path.exists() and not path.is_symlink():
            return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{a.path} is gone already")
        if not path.is_symlink() or Path(os.readlink(path)).resolve() != Path(a.source).resolve():
            return self._left_alone(a, f"{a.path} is no longer a link to {a.source}")
        before = path_state(path)
        os.unlink(path)
        self._journal_undo(a, before, path_state(path), {"path": path, "source": a.source},
                           f"removed the link {a.path} (the pack folder {a.source} stays)")
        return ActionOutcome(item=a.item, kind=a.kind, status="done", message=f"removed the link {a.path}")

    def _quarantine(self, a: QuarantineAction) -> ActionOutcome:
        from comfyfixer.tools.download.staging import quarantine, quarantine_dir_for
        from comfyfixer.tools.packs import head_commit

        path = resolve_target(self.plan, a.path)
        if not path.exists():
            return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{a.path} is gone already")
        if a.what == "pack":
            now = head_commit(path) if (path / ".git").exists() else None
            if a.commit and now != a.commit:
                return self._left_alone(a, f"{a.path} is no longer at commit {a.commit[:12]}")
        else:
            changed = self._changed(path, a.sha256)
            if changed:
                return self._left_alone(a, changed)
        before = path_state(path)
        if a.purge and a.what == "file":
            os.unlink(path)
            outputs: dict[str, Any] = {"path": path, "sha256": a.sha256, "deleted": True}
            msg = f"deleted {a.path} (--purge)"
        else:
            dest = quarantine(path, quarantine_dir_for(path, self.comfy), f"undo of plan {self.plan.undo_of}",
                              {"sha256": a.sha256, "commit": a.commit, "undoes": a.undoes})
            outputs = {"path": path, "quarantined_to": dest, "sha256": a.sha256, "commit": a.commit}
            msg = f"moved {a.path} to quarantine ({dest.name})"
        self._journal_undo(a, before, path_state(path), outputs, msg)
        return ActionOutcome(item=a.item, kind=a.kind, status="done", message=msg, details=outputs)

    def _restore_python(self, a: RestorePythonAction) -> ActionOutcome:
        from comfyfixer.tools.packs.requirements import install_checked_requirements, uninstall_packages

        python = Path(a.python)
        scratch = self.settings.cache_dir / "packs" / ".restore" / f"{self.plan.plan_id[:16]}-{secrets.token_hex(3)}"
        commands: list[list[str]] = []
        try:
            if a.install:
                scratch.mkdir(parents=True, exist_ok=True)
                atomic_write(scratch / "requirements.txt", "".join(p + "\n" for p in a.install))
                done = install_checked_requirements(scratch, python=python, staging_dir=scratch / "pip",
                                                    index_url=a.index_url, expected_python_sha256=a.python_sha256,
                                                    constraints=a.install)
                commands += done.commands
            if a.uninstall:
                commands.append(uninstall_packages(python, a.uninstall, expected_python_sha256=a.python_sha256))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self.journal.append(a.kind, plan_id=self.plan.plan_id, inputs={"item": a.item, "python": a.python,
                                                                       "undoes": a.undoes},
                            outputs={"installed": a.install, "uninstalled": a.uninstall, "commands": commands},
                            message=f"restored {python} to the snapshot: {len(a.install)} pinned, "
                            f"{len(a.uninstall)} removed")
        return ActionOutcome(item=a.item, kind=a.kind, status="done",
                             message=f"pinned {', '.join(a.install) or 'nothing'}; removed {', '.join(a.uninstall) or 'nothing'}")

    def _changed(self, path: Path, sha256: str | None) -> str | None:
        """Why ``path`` is not the file the plan placed (None: it still is)."""
        from comfyfixer.tools.download.verify import sha256_file

        if not path.is_file() or path.is_symlink():
            return f"{path} is not a regular file any more"
        if sha256 and sha256_file(path) != sha256:
            return f"{path} changed since the plan was applied (sha256 differs)"
        return None

    def _left_alone(self, a: Any, why: str) -> ActionOutcome:
        self.journal.append(a.kind, plan_id=self.plan.plan_id, inputs={"item": a.item, "undoes": a.undoes},
                            status="left_alone", message=f"left alone: {why}")
        return ActionOutcome(item=a.item, kind=a.kind, status="left_alone", message=f"left alone: {why}")

    def _journal_undo(self, a: Any, before: dict[str, bool], after: dict[str, bool], outputs: dict[str, Any],
                      message: str) -> None:
        self.journal.append(a.kind, plan_id=self.plan.plan_id, inputs={"item": a.item, "undoes": a.undoes},
                            outputs=outputs, before=before, after=after, message=message)


def saved_workflow_files(comfy: Path) -> list[str]:
    """The ``.json`` workflows ComfyUI's UI saved (``<ComfyUI>/user/<user>/workflows``, sub-folders too).

    Walked without following symbolic links, so a link loop cannot make it run forever.
    """
    found: list[str] = []
    users = Path(comfy) / "user"
    if not users.is_dir():
        return found
    for user in sorted(users.iterdir()):
        folder = user / "workflows"
        if user.is_symlink() or not folder.is_dir():
            continue
        for root, dirs, files in os.walk(folder):
            dirs.sort()
            found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(".json")]
    return found


def workflow_model_refs(path: Path) -> list[tuple[str | None, str]]:
    """``(folder key or None, file name)`` for every model a workflow file loads (muted nodes included:
    the user may switch them back on)."""
    from comfyfixer.tools.workflow import inspect_source

    return [(m.folder, m.filename) for m in inspect_source(Path(path)).models]


def _standard_key(rel: str) -> str | None:
    """The folder key whose standard directory holds ``rel`` (a path under the ComfyUI folder), if any."""
    from comfyfixer.tools.model_folders import FOLDERS

    for key, f in FOLDERS.items():
        if any(rel.startswith(d + "/") for d in f.dirs):
            return key
    return None


def _loads_from(folder: str | None, name: str, source: str, target: str) -> bool:
    """A reference ``(folder, name)`` would load the file at ``source`` (both relative to the ComfyUI folder).

    Exact for ComfyUI's standard folders; by name alone when the loader's folder is unknown or the file lies
    outside the standard folders (an ``extra_model_paths.yaml`` folder), except for the loader the move is
    for (the one that reads the ``target`` folder and does not find the file where it is).
    """
    from comfyfixer.tools.model_folders import FOLDERS, canonical_folder, normalize_model_name

    name = normalize_model_name(name)
    src = PurePosixPath(source.replace("\\", "/")).as_posix()
    if not name:
        return False
    key = canonical_folder(folder)
    entry = FOLDERS.get(key) if key else None
    if entry is not None and _standard_key(src) is not None:
        return any(src == f"{d}/{name}" for d in entry.dirs)
    if key is not None and key == _standard_key(PurePosixPath(target).as_posix()):
        return False
    return src == name or src.endswith("/" + name)


def _same_bytes(a: Path, b: Path) -> bool:
    """The same file (a hard link) or the same size and sha256."""
    from comfyfixer.tools.download.verify import sha256_file

    if os.path.samefile(a, b):
        return True
    return a.stat().st_size == b.stat().st_size and sha256_file(a) == sha256_file(b)


def _who(users: list[str]) -> str:
    names = [Path(u).name for u in users]
    return names[0] if len(names) == 1 else f"{len(names)} workflows ({', '.join(names[:3])}{'…' if len(names) > 3 else ''})"


def _holds_expected(a: DownloadAction, path: Path) -> tuple[bool, str]:
    """Whether ``path`` already is the planned file (the engine's rule), and a short description of it."""
    from comfyfixer.tools.download import norm_sha256, sha256_file

    size = path.stat().st_size
    if a.size_exact and a.size is not None and size != a.size:
        return False, f"{size} bytes, expected {a.size}"  # no need to hash a file of the wrong size
    want = norm_sha256(a.sha256)
    if want:
        digest = sha256_file(path)
        return digest == want, f"sha256 {digest[:12]}…, expected {want[:12]}…"
    return True, f"{size} bytes"


def link_or_copy(src: Path, dst: Path, *, link: Callable[[Path, Path], None] = os.link) -> Literal["hardlink", "copy"]:
    """Put the bytes of ``src`` at ``dst`` (which must not exist) without touching ``src``.

    A hard link when ``link`` succeeds (same device); otherwise (another device, a file system without
    hard links) a copy to a hidden temporary name beside ``dst``, checked against ``src`` by size and
    sha256 before it is placed. Never replaces an existing ``dst``.
    """
    from comfyfixer.tools.download.staging import fsync_dir

    try:
        link(src, dst)
    except FileExistsError:
        raise ComfyFixerError(f"{dst} appeared meanwhile; not overwriting it",
                              hint="compare the two files yourself") from None
    except OSError:  # another device, or no hard links here: a verified copy
        _verified_copy(src, dst)
        return "copy"
    fsync_dir(dst.parent)
    return "hardlink"


def _verified_copy(src: Path, dst: Path) -> None:
    """Copy to a hidden temporary name beside ``dst``, check size and sha256 against ``src``, then place it."""
    from comfyfixer.tools.download.staging import place
    from comfyfixer.tools.download.verify import sha256_file

    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.comfyfixer-copy")  # not a model extension
    hasher = hashlib.sha256()
    size = 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            while block := fin.read(4 << 20):
                hasher.update(block)
                fout.write(block)
                size += len(block)
            fout.flush()
            os.fsync(fout.fileno())
        st = src.stat()
        if tmp.stat().st_size != size or st.st_size != size or sha256_file(tmp) != hasher.hexdigest():
            raise IntegrityError(f"copying {src.name} to {dst.parent} did not give the same bytes; nothing changed",
                                 hint="check the disk, then run the plan again")
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        place(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _download_inputs(a: DownloadAction) -> dict[str, Any]:
    return {"item": a.item, "url": a.url, "source": a.source, "target": a.target, "expected_size": a.size,
            "expected_sha256": a.sha256, "license": a.license}
