"""Runs an approved plan: moves, downloads (bounded concurrency), node packs; one failure never stops the rest.

Every change on disk is journaled (one JSONL entry + one audit line) with the paths touched,
their existence before and after, and hashes. Downloads show a progress bar per file and
overall on stderr. ``dry_run`` reports what would happen and changes nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from comfyfixer.agent.config import Settings
from comfyfixer.agent.journal import Journal, path_state
from comfyfixer.agent.plan import (
    CoreUpdateAction,
    DownloadAction,
    InstallPackAction,
    MoveAction,
    Plan,
    resolve_target,
)
from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.paths import safe_join

log = logging.getLogger(__name__)

OutcomeStatus = Literal["done", "already_done", "failed", "manual", "dry_run"]


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

    @property
    def failed(self) -> list[ActionOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def host_policy(settings: Settings) -> Any:
    """The download host policy from settings: allow-list additions and origin-bound tokens.

    The Civitai token is bound to ``https://civitai.com`` and the configured Civitai base URL's origin,
    the Hugging Face token to ``https://huggingface.co`` and ``HF_ENDPOINT``'s origin. Should two of
    those be the same origin and both tokens set, the Hugging Face one wins there (a local mirror serving both).
    """
    from comfyfixer.tools.download import HostPolicy

    tokens: dict[str, str | None] = {}
    civitai = settings.secret("civitai_token")
    hf = settings.secret("hf_token")
    for origin, token in (("https://civitai.com", civitai), (settings.civitai_base_url, civitai),
                          ("https://huggingface.co", hf), (settings.hf_endpoint, hf)):
        if token:
            tokens[origin] = token
    return HostPolicy.build(settings.allowed_hosts, tokens)


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
                 concurrency: int = 2, show_progress: bool = True, retry: Any = None) -> None:
        self.plan = plan
        self.settings = settings
        self.journal = journal
        self.dry_run = dry_run
        self.concurrency = max(1, concurrency)
        self.show_progress = show_progress
        self.retry = retry
        self.comfy = Path(plan.comfyui_dir)
        self._lock = threading.Lock()

    def run(self) -> ExecutionReport:
        report = ExecutionReport(plan_id=self.plan.plan_id, dry_run=self.dry_run,
                                 started_at=datetime.now(UTC).isoformat(timespec="seconds"))
        if not self.comfy.is_dir():
            raise ComfyFixerError(f"ComfyUI folder {self.comfy} does not exist",
                                  hint="the plan names a ComfyUI folder that is gone; run `comfyfixer fix` again")
        if not self.dry_run:
            self.journal.append("apply_started", plan_id=self.plan.plan_id,
                                inputs={"actions": [a.item for a in self.plan.actions], "comfyui_dir": str(self.comfy)})
        outcomes: dict[str, ActionOutcome] = {}
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
        return report

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
        if self.dry_run:
            return ActionOutcome(item=a.item, kind=a.kind, status="dry_run", message=f"would move {src} → {dst}")
        if not src.is_file():
            if dst.is_file():
                return ActionOutcome(item=a.item, kind=a.kind, status="already_done", message=f"{dst} is in place")
            raise ComfyFixerError(f"{src} is gone; nothing to move")
        if dst.exists():
            raise ComfyFixerError(f"{dst} already exists; not overwriting it", hint="compare the two files yourself")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
            os.unlink(src)
        except OSError:
            shutil.move(str(src), str(dst))
        self.journal.append("move_model", plan_id=self.plan.plan_id, inputs={"item": a.item, "source": src},
                            outputs={"target": dst, "size": dst.stat().st_size}, before=before,
                            after=path_state(src, dst), message=f"moved {a.source} → {a.target}")
        return ActionOutcome(item=a.item, kind=a.kind, status="done", message=f"moved to {a.target}")

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

        if self.dry_run:
            return {a.item: ActionOutcome(item=a.item, kind=a.kind, status="dry_run",
                                          message=f"would download {a.url.split('?')[0]} → {a.target}")
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

        target = resolve_target(self.plan, a.target)
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
        except ComfyFixerError as exc:
            self.journal.append("download_model", plan_id=self.plan.plan_id, status="failed", message=str(exc),
                                inputs=_download_inputs(a), before=before, after=path_state(target))
            return ActionOutcome(item=a.item, kind=a.kind, status="failed", message=str(exc),
                                 error_type=type(exc).__name__)
        outputs = res.model_dump(mode="json")
        status: OutcomeStatus = "done" if res.status == "downloaded" else "already_done"
        self.journal.append("download_model", plan_id=self.plan.plan_id, inputs=_download_inputs(a), outputs=outputs,
                            before=before, after=path_state(target), status=res.status,
                            message=f"{res.status} {a.target} sha256={res.sha256[:16]} ({res.sha256_checked_against})")
        msg = (f"{a.target}: {res.size} bytes, sha256 {res.sha256[:12]}… "
               + ("verified" if res.sha256_checked_against != "none" else "recorded (source gave no hash)"))
        if res.resumed_from:
            msg += f", resumed at {res.resumed_from}"
        return ActionOutcome(item=a.item, kind=a.kind, status=status, message=msg, details=outputs)

    def _pack(self, a: InstallPackAction) -> ActionOutcome:
        from comfyfixer.tools.download.staging import staging_dir_for
        from comfyfixer.tools.gitpack import PackInstallRequest, install_pack

        target = safe_join(self.comfy, a.target, what="node pack folder")
        if self.dry_run:
            return ActionOutcome(item=a.item, kind=a.kind, status="dry_run",
                                 message="would run: " + "; ".join(" ".join(c) for c in a.commands))
        before = path_state(target)
        python = self.settings.comfyui_python
        req = PackInstallRequest(repo_url=a.repo_url, commit=a.commit, target=target,
                                 staging_dir=staging_dir_for(target, self.comfy), allowed_roots=[self.comfy],
                                 python=python)
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


def _download_inputs(a: DownloadAction) -> dict[str, Any]:
    return {"item": a.item, "url": a.url, "source": a.source, "target": a.target, "expected_size": a.size,
            "expected_sha256": a.sha256, "license": a.license}
