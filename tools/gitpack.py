"""Install a custom node pack: ``git clone`` at a pinned commit, then its Python requirements.

The clone goes to a staging folder first and is renamed into ``custom_nodes/`` only once it
is checked out at the requested commit, so an interrupted clone never leaves a half pack
that ComfyUI would try to import. Requirements are installed with ComfyUI's own Python
(``<python> -m pip install -r requirements.txt``); without that Python the command is
returned, not guessed. Every command run is returned for the journal.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.errors import ComfyFixerError, InputError
from comfyfixer.tools.paths import ensure_under, safe_filename

log = logging.getLogger(__name__)

Runner = Callable[..., subprocess.CompletedProcess[str]]


class PackInstallRequest(BaseModel):
    """Arguments of :func:`install_pack`."""

    repo_url: str = Field(description="Git repository (https; loopback http only when allowed).")
    commit: str | None = Field(default=None, description="Commit to check out; None = the default branch head.")
    target: Path = Field(description="custom_nodes/<name> (absolute).")
    staging_dir: Path = Field(description="Folder for the clone before it is moved into place.")
    allowed_roots: list[Path] = Field(description="Folders the target and staging must lie in.")
    python: Path | None = Field(default=None, description="ComfyUI's Python for the requirements; None = don't install.")
    install_requirements: bool = Field(default=True, description="Install requirements.txt if present.")
    timeout: float = Field(default=600.0, description="Seconds per command.")


class PackInstallResult(BaseModel):
    status: str = Field(description="installed | already_present")
    target: Path
    commit: str = Field(description="The commit checked out.")
    commands: list[list[str]] = Field(default_factory=list, description="Commands run, in order.")
    requirements_file: str | None = None
    requirements_installed: bool = False
    pending_commands: list[list[str]] = Field(default_factory=list, description="Commands left for the user.")


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"})
    return env


def _run(cmd: Sequence[str], runner: Runner, timeout: float, what: str) -> str:
    try:
        proc = runner(list(cmd), capture_output=True, text=True, timeout=timeout, env=_git_env(), check=False)
    except FileNotFoundError:
        raise ComfyFixerError(f"{cmd[0]} is not installed", hint=f"install {cmd[0]} to {what}") from None
    except subprocess.TimeoutExpired:
        raise ComfyFixerError(f"{what}: timed out after {timeout:.0f}s") from None
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise ComfyFixerError(f"{what} failed: {err[-1] if err else 'exit ' + str(proc.returncode)}")
    return proc.stdout.strip()


def head_commit(repo: Path, runner: Runner = subprocess.run) -> str:
    return _run(["git", "-C", str(repo), "rev-parse", "HEAD"], runner, 60, "reading the pack's commit")


def install_pack(req: PackInstallRequest, policy: HostPolicy, *, runner: Runner = subprocess.run) -> PackInstallResult:
    """Clone ``repo_url`` at ``commit`` into ``target`` (via staging) and install its requirements."""
    policy.check(req.repo_url)
    target = ensure_under(req.target, req.allowed_roots, what="node pack folder")
    ensure_under(req.staging_dir, req.allowed_roots, what="staging folder")
    name = safe_filename(target.name, what="node pack folder")
    if req.commit is not None and not all(c in "0123456789abcdef" for c in req.commit.lower()):
        raise InputError(f"pinned commit {req.commit!r} is not a hex commit id")
    commands: list[list[str]] = []
    if target.exists():
        if (target / ".git").exists():
            have = head_commit(target, runner)
            if req.commit is None or have.startswith(req.commit.lower()):
                done = PackInstallResult(status="already_present", target=target, commit=have)
                return _requirements(req, done, runner)
        raise ComfyFixerError(f"{target} already exists (not at the pinned commit); left untouched",
                              hint="remove or rename it yourself, or drop this action from the plan")
    req.staging_dir.mkdir(parents=True, exist_ok=True)
    for stale in req.staging_dir.glob(f"{name}.*.clone"):
        # clones interrupted earlier: our own staging copies, never user data (a git process orphaned
        # by a kill may still be writing into one, hence a fresh name below and best-effort removal)
        shutil.rmtree(stale, ignore_errors=True)
    stage = req.staging_dir / f"{name}.{os.getpid()}-{secrets.token_hex(3)}.clone"
    clone = ["git", "clone", "--quiet", "--no-checkout", "--", req.repo_url, str(stage)]
    commands.append(clone)
    _run(clone, runner, req.timeout, f"cloning {req.repo_url}")
    checkout = ["git", "-C", str(stage), "checkout", "--quiet", "--detach", req.commit or "HEAD"]
    commands.append(checkout)
    _run(checkout, runner, req.timeout, f"checking out {req.commit or 'HEAD'}")
    commit = head_commit(stage, runner)
    if req.commit is not None and not commit.startswith(req.commit.lower()):
        raise ComfyFixerError(f"checked out {commit} instead of the pinned {req.commit}")
    if (stage / ".gitmodules").exists():
        sub = ["git", "-C", str(stage), "submodule", "update", "--init", "--recursive", "--quiet"]
        commands.append(sub)
        _run(sub, runner, req.timeout, "fetching submodules")
    os.rename(stage, target)
    result = PackInstallResult(status="installed", target=target, commit=commit, commands=commands)
    return _requirements(req, result, runner)


def _requirements(req: PackInstallRequest, result: PackInstallResult, runner: Runner) -> PackInstallResult:
    """Install requirements.txt with ComfyUI's Python (re-running is harmless: pip skips what is there)."""
    reqs = result.target / "requirements.txt"
    if not (reqs.is_file() and req.install_requirements):
        return result
    result.requirements_file = str(reqs)
    pip = [str(req.python) if req.python else "<comfyui_python>", "-m", "pip", "install", "-r", str(reqs)]
    if req.python is None:
        result.pending_commands.append(pip)
        return result
    result.commands.append(pip)
    try:
        _run(pip, runner, req.timeout, f"installing the requirements of {result.target.name}")
    except ComfyFixerError as exc:
        raise ComfyFixerError(f"{exc.message} (the pack itself is in place at {result.target})",
                              hint="fix the requirement and run the plan again") from None
    result.requirements_installed = True
    return result


def remote_head(repo_url: str, policy: HostPolicy, *, runner: Runner = subprocess.run, timeout: float = 60.0) -> str:
    """The commit the remote's default branch points at now (to pin a pack at plan time)."""
    policy.check(repo_url)
    out = _run(["git", "ls-remote", "--", repo_url, "HEAD"], runner, timeout, f"asking {repo_url} for its head")
    sha = out.split()[0] if out else ""
    if len(sha) != 40:
        raise ComfyFixerError(f"{repo_url} did not report a HEAD commit")
    return sha
