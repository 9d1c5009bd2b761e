"""Hardened git for node packs: clone at a verified commit, submodules from allowed hosts only.

A node pack is code ComfyUI will import, and the URL comes from a catalog or a workflow, so
every git command runs with the same locked-down configuration (:func:`git_command`,
:func:`git_env`):

* transports: ``protocol.allow=never`` then ``https`` only — plain ``http`` only when the URL is
  a loopback host the :class:`HostPolicy` allows (tests, local mirrors); ``file://``, ``ssh``,
  ``git://`` and ``ext::`` are never allowed (also for submodules: ``GIT_ALLOW_PROTOCOL``);
* no redirects at all (``http.followRedirects=false``): a redirect could move the fetch to any
  host, and git has no per-hop check. A renamed repository is reported with a hint instead;
* no hooks (``core.hooksPath=/dev/null``, ``--template=`` so none are copied), no fsmonitor,
  no credential helpers, no pager;
* the user's and the system's git configuration are ignored (``GIT_CONFIG_NOSYSTEM=1``,
  ``GIT_CONFIG_GLOBAL=/dev/null``) and every inherited ``GIT_*`` variable is dropped, so
  neither can change what runs;
* submodule URLs are read from ``.gitmodules`` and checked against the policy *before*
  ``submodule update``, one level at a time (a nested submodule is checked before it is fetched).

:func:`clone_verified` clones into a staging folder and checks out the requested commit
(verified with ``rev-parse``); :func:`install_pack` then renames it into ``custom_nodes/``,
so an interrupted clone never leaves a half pack ComfyUI would import. Every command run is
returned for the journal.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, Field

from comfyfixer.tools.download.hosts import HostNotAllowed, HostPolicy
from comfyfixer.tools.errors import ComfyFixerError, InputError
from comfyfixer.tools.paths import ensure_under, safe_filename, safe_relpath

log = logging.getLogger(__name__)

Runner = Callable[..., subprocess.CompletedProcess[str]]

_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
MAX_SUBMODULE_DEPTH = 4

# Applied to every git command, in this order (later -c wins over earlier ones).
HARDENED_CONFIG: tuple[str, ...] = (
    "protocol.allow=never",
    "protocol.https.allow=always",
    "http.followRedirects=false",
    "core.hooksPath=" + os.devnull,
    "core.fsmonitor=false",
    "credential.helper=",
    "submodule.recurse=false",
    "advice.detachedHead=false",
)


class PackRefused(InputError):
    """A pack (or one of its submodules) points somewhere the download policy does not allow."""


def transport_ok(url: str, policy: HostPolicy, *, what: str = "repository") -> bool:
    """Check a git URL against the policy; True when it is plain http (allowed loopback only).

    Refuses anything but ``https://`` (or policy-approved loopback ``http://``): scp-like
    ``user@host:path``, ``ssh://``, ``git://``, ``file://``, ``ext::``, local paths, URLs with
    embedded credentials, and names starting with ``-`` (option injection).
    """
    text = url.strip()
    if text != url or not text or text.startswith("-") or "::" in text.split("/", 1)[0]:
        raise PackRefused(f"refusing {what} URL {url!r}: not a plain https URL", hint="use the https clone URL")
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PackRefused(f"refusing {what} URL {url!r}: only https git URLs are allowed",
                          hint="use the https clone URL (file://, ssh, git:// and ext:: are never used)")
    if parts.username or parts.password:
        raise PackRefused(f"refusing {what} URL with embedded credentials ({parts.scheme}://…@{parts.hostname})",
                          hint="remove the user:password part of the URL")
    try:
        policy.check(text)
    except HostNotAllowed as exc:
        raise PackRefused(f"refusing {what} {url}: {exc.message}", hint=exc.hint) from None
    return parts.scheme == "http"


def git_command(args: Sequence[str], *, allow_http: bool = False) -> list[str]:
    """``git`` with the hardened configuration, then ``args``."""
    cmd = ["git"]
    for item in HARDENED_CONFIG:
        cmd += ["-c", item]
    if allow_http:
        cmd += ["-c", "protocol.http.allow=always"]
    return cmd + list(args)


def git_env(*, allow_http: bool = False, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for git: inherited ``GIT_*`` dropped, user/system config ignored, no prompts."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("GIT_")}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        "GIT_PROTOCOL_FROM_USER": "0",
        # honoured by every git process, including the ones `submodule update` starts
        "GIT_ALLOW_PROTOCOL": "https:http" if allow_http else "https",
        "LC_ALL": "C",
    })
    return env


def run_git(args: Sequence[str], *, runner: Runner = subprocess.run, timeout: float = 600.0, what: str,
            allow_http: bool = False, commands: list[list[str]] | None = None) -> str:
    """Run one hardened git command; raise :class:`ComfyFixerError` saying what failed and why."""
    cmd = git_command(args, allow_http=allow_http)
    if commands is not None:
        commands.append(cmd)
    try:
        proc = runner(cmd, capture_output=True, text=True, timeout=timeout, env=git_env(allow_http=allow_http),
                      check=False)
    except FileNotFoundError:
        raise ComfyFixerError("git is not installed", hint=f"install git to {what}") from None
    except subprocess.TimeoutExpired:
        raise ComfyFixerError(f"{what}: timed out after {timeout:.0f}s", hint="check the network and try again") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()
        last = lines[-1] if lines else f"exit {proc.returncode}"
        if re.search(r"returned error: 30[1278]", last):
            raise PackRefused(f"{what}: the server answered with a redirect, which is never followed",
                              hint="the repository may have moved: put its new https URL in the plan if you trust it")
        raise ComfyFixerError(f"{what} failed: {last}")
    return proc.stdout.strip()


def head_commit(repo: Path, runner: Runner = subprocess.run) -> str:
    """The commit ``repo`` has checked out."""
    return run_git(["-C", str(repo), "rev-parse", "HEAD"], runner=runner, timeout=60, what="reading the pack's commit")


def check_commit_id(commit: str | None) -> str | None:
    """A commit id as git prints it (7-40 lower-case hex), or None; anything else is an input error."""
    if commit is None:
        return None
    c = commit.strip().lower()
    if not _HEX.match(c):
        raise InputError(f"pinned commit {commit!r} is not a hex commit id (7 to 40 hex digits)")
    return c


class Submodule(BaseModel):
    """One ``.gitmodules`` entry as declared (URL already resolved when relative)."""

    name: str
    path: str
    url: str
    declared_url: str


def read_submodules(repo: Path, parent_url: str, *, runner: Runner = subprocess.run) -> list[Submodule]:
    """The submodules ``repo/.gitmodules`` declares, relative URLs resolved against ``parent_url``.

    Read with ``git config -f .gitmodules --no-includes`` (the file is data, never executed).
    An ``update = !command`` entry or an unsafe path is refused outright.
    """
    if not (repo / ".gitmodules").is_file():
        return []
    try:
        out = run_git(["config", "--no-includes", "-f", str(repo / ".gitmodules"), "--get-regexp",
                       r"^submodule\..*\.(url|path|update)$"], runner=runner, timeout=60, what="reading .gitmodules")
    except ComfyFixerError as exc:
        if "exit 1" in exc.message:  # no matching keys
            return []
        raise
    entries: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        name, _, field = key.removeprefix("submodule.").rpartition(".")
        entries.setdefault(name, {})[field] = value.strip()
    subs: list[Submodule] = []
    for name, fields in sorted(entries.items()):
        if fields.get("update", "").startswith("!"):
            raise PackRefused(f"submodule {name!r} declares a shell command as its update method; refusing the pack")
        declared = fields.get("url", "")
        if not declared:
            continue
        path = str(safe_relpath(fields.get("path", name), what="submodule path"))
        url = urljoin(parent_url.rstrip("/") + "/", declared) if declared.startswith(("./", "../")) else declared
        subs.append(Submodule(name=name, path=path, url=url, declared_url=declared))
    return subs


def check_submodules(subs: Sequence[Submodule], policy: HostPolicy) -> bool:
    """Every submodule URL must pass the same policy as the pack; True if any needs loopback http."""
    needs_http = False
    for sub in subs:
        try:
            needs_http |= transport_ok(sub.url, policy, what=f"submodule {sub.name!r}")
        except PackRefused as exc:
            raise PackRefused(f"submodule {sub.path} points at {sub.declared_url}: {exc.message}",
                              hint=exc.hint or "the pack's .gitmodules names a host you have not allowed") from None
    return needs_http


def _update_submodules(repo: Path, repo_url: str, policy: HostPolicy, runner: Runner, timeout: float,
                       commands: list[list[str]], depth: int = 0) -> None:
    subs = read_submodules(repo, repo_url, runner=runner)
    if not subs:
        return
    if depth >= MAX_SUBMODULE_DEPTH:
        raise PackRefused(f"submodules nested deeper than {MAX_SUBMODULE_DEPTH} levels in {repo.name}")
    http = check_submodules(subs, policy)
    for sub in subs:
        # pin the checked URL in .git/config so `update` fetches exactly what was checked
        run_git(["-C", str(repo), "config", f"submodule.{sub.name}.url", sub.url], runner=runner, timeout=60,
                what="recording a submodule URL", commands=commands)
    run_git(["-C", str(repo), "submodule", "update", "--init", "--quiet", "--", *[s.path for s in subs]],
            runner=runner, timeout=timeout, what="fetching submodules", allow_http=http, commands=commands)
    for sub in subs:
        _update_submodules(repo / sub.path, sub.url, policy, runner, timeout, commands, depth + 1)


class CloneResult(BaseModel):
    """A verified clone in staging."""

    path: Path
    commit: str = Field(description="The full commit id checked out.")
    commands: list[list[str]] = Field(default_factory=list)


def clone_verified(repo_url: str, commit: str | None, stage: Path, policy: HostPolicy, *,
                   runner: Runner = subprocess.run, timeout: float = 600.0, submodules: bool = True) -> CloneResult:
    """Clone ``repo_url`` into the new folder ``stage`` and check out ``commit`` (None: default branch head).

    The checked-out commit is verified; a full 40-digit commit that the default clone does not
    contain is fetched by id. Submodules (``submodules=True``) are checked against the policy
    before any is fetched. On any failure the staging folder is removed.
    """
    http = transport_ok(repo_url, policy)
    want = check_commit_id(commit)
    commands: list[list[str]] = []
    try:
        run_git(["clone", "--quiet", "--no-checkout", "--template=", "--", repo_url, str(stage)], runner=runner,
                timeout=timeout, what=f"cloning {repo_url}", allow_http=http, commands=commands)
        target = want or "HEAD"
        checkout = ["-C", str(stage), "checkout", "--quiet", "--detach", target]
        try:
            run_git(checkout, runner=runner, timeout=timeout, what=f"checking out {target}", commands=commands)
        except ComfyFixerError:
            if want is None or not _FULL_SHA.match(want):
                raise
            # not reachable from a branch or tag: ask the server for exactly this commit
            run_git(["-C", str(stage), "fetch", "--quiet", "origin", want], runner=runner, timeout=timeout,
                    what=f"fetching commit {want[:12]}", allow_http=http, commands=commands)
            run_git(checkout, runner=runner, timeout=timeout, what=f"checking out {target}", commands=commands)
        got = head_commit(stage, runner)
        if want is not None and not got.startswith(want):
            raise ComfyFixerError(f"checked out {got} instead of the pinned {want}",
                                  hint="the repository's history may have been rewritten; re-plan the fix")
        if submodules:
            _update_submodules(stage, repo_url, policy, runner, timeout, commands)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return CloneResult(path=stage, commit=got, commands=commands)


class PackInstallRequest(BaseModel):
    """Arguments of :func:`install_pack`."""

    repo_url: str = Field(description="Git repository (https; loopback http only when allowed).")
    commit: str | None = Field(default=None, description="Commit to check out; None = the default branch head.")
    target: Path = Field(description="custom_nodes/<name> (absolute).")
    staging_dir: Path = Field(description="Folder for the clone before it is moved into place.")
    allowed_roots: list[Path] = Field(description="Folders the target and staging must lie in.")
    python: Path | None = Field(default=None, description="ComfyUI's Python for the requirements; None = don't install.")
    install_requirements: bool = Field(default=True, description="Install requirements.txt if present.")
    index_url: str | None = Field(default=None, description="The package index pip must use (None: pip's default).")
    allow_sdist: bool = Field(default=False, description="Let pip build source distributions (runs their code).")
    expected_python_sha256: str | None = Field(
        default=None, description="sha256 of ComfyUI's Python as planned; a different file refuses the install.")
    constraints: list[str] = Field(
        default_factory=list, description="name==version pins from the plan's requirements check (pip -c).")
    timeout: float = Field(default=600.0, description="Seconds per command.")


class PackInstallResult(BaseModel):
    """What :func:`install_pack` did."""

    status: str = Field(description="installed | already_present")
    target: Path
    commit: str = Field(description="The commit checked out.")
    commands: list[list[str]] = Field(default_factory=list, description="Commands run, in order.")
    requirements_file: str | None = None
    requirements_installed: bool = False
    pending_commands: list[list[str]] = Field(default_factory=list, description="Commands left for the user.")


def install_pack(req: PackInstallRequest, policy: HostPolicy, *, runner: Runner = subprocess.run) -> PackInstallResult:
    """Clone ``repo_url`` at ``commit`` into ``target`` (via staging), then install its checked requirements."""
    transport_ok(req.repo_url, policy)
    target = ensure_under(req.target, req.allowed_roots, what="node pack folder")
    ensure_under(req.staging_dir, req.allowed_roots, what="staging folder")
    name = safe_filename(target.name, what="node pack folder")
    want = check_commit_id(req.commit)
    if target.exists():
        if (target / ".git").exists():
            have = head_commit(target, runner)
            if want is None or have.startswith(want):
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
    clone = clone_verified(req.repo_url, want, stage, policy, runner=runner, timeout=req.timeout)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(clone.path, target)
    result = PackInstallResult(status="installed", target=target, commit=clone.commit, commands=clone.commands)
    return _requirements(req, result, runner)


def _requirements(req: PackInstallRequest, result: PackInstallResult, runner: Runner) -> PackInstallResult:
    """Install the pack's requirements (sanitised, binary-only, our index) with ComfyUI's Python."""
    from comfyfixer.tools.packs.requirements import RequirementRefused, install_checked_requirements

    if not req.install_requirements:
        return result
    try:
        done = install_checked_requirements(
            result.target, python=req.python, staging_dir=req.staging_dir, index_url=req.index_url,
            allow_sdist=req.allow_sdist, expected_python_sha256=req.expected_python_sha256,
            constraints=req.constraints, timeout=req.timeout, runner=runner)
    except RequirementRefused as exc:
        raise ComfyFixerError(f"{exc.message} (the pack itself is in place at {result.target})",
                              hint=exc.hint) from None
    except ComfyFixerError as exc:
        raise ComfyFixerError(f"{exc.message} (the pack itself is in place at {result.target})",
                              hint=exc.hint or "fix the requirement and run the plan again") from None
    result.requirements_file = done.requirements_file
    result.commands += done.commands
    result.pending_commands += done.pending_commands
    result.requirements_installed = done.installed
    return result


def remote_head(repo_url: str, policy: HostPolicy, *, runner: Runner = subprocess.run, timeout: float = 60.0) -> str:
    """The commit the remote's default branch points at now (to pin a pack at plan time)."""
    http = transport_ok(repo_url, policy)
    out = run_git(["ls-remote", "--", repo_url, "HEAD"], runner=runner, timeout=timeout,
                  what=f"asking {repo_url} for its head", allow_http=http)
    sha = out.split()[0] if out else ""
    if not _FULL_SHA.match(sha):
        raise ComfyFixerError(f"{repo_url} did not report a HEAD commit")
    return sha


def tag_commit(repo_url: str, version: str, policy: HostPolicy, *, runner: Runner = subprocess.run,
               timeout: float = 60.0) -> str | None:
    """The commit of the tag ``v<version>`` or ``<version>`` on the remote, if it has one (annotated tags peeled)."""
    if not re.match(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$", version):
        return None
    http = transport_ok(repo_url, policy)
    out = run_git(["ls-remote", "--tags", "--", repo_url, f"refs/tags/v{version}", f"refs/tags/{version}"],
                  runner=runner, timeout=timeout, what=f"asking {repo_url} for tag {version}", allow_http=http)
    tags: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        tags[ref] = sha
    for name in (f"refs/tags/v{version}", f"refs/tags/{version}"):
        found = tags.get(name + "^{}") or tags.get(name)
        if found and _FULL_SHA.match(found):
            return found
    return None


def snapshot_pack(repo_url: str, commit: str, root: Path, policy: HostPolicy, *, allowed_roots: Sequence[Path],
                  runner: Runner = subprocess.run, timeout: float = 600.0) -> CloneResult:
    """A read-only checkout of ``repo_url`` at ``commit`` under ``root`` (a cache), to inspect before approval.

    Reused when already there at that commit; never imported or installed. Submodules are not
    fetched (plan time only reads ``requirements.txt``/``pyproject.toml``), but their URLs are
    checked, so a pack with a disallowed submodule is refused at plan time already.
    """
    want = check_commit_id(commit)
    if want is None or not _FULL_SHA.match(want):
        raise InputError(f"a snapshot needs a full 40-digit commit id, not {commit!r}",
                         hint="pin the pack first (remote_head or the workflow's recorded commit)")
    ensure_under(root, allowed_roots, what="pack snapshot folder")
    name = safe_filename(f"{urlsplit(repo_url).path.rstrip('/').rsplit('/', 1)[-1].removesuffix('.git') or 'pack'}"
                         f"-{want[:16]}", what="pack snapshot folder")
    dest = root / name
    if dest.is_dir() and (dest / ".git").exists():
        if head_commit(dest, runner) == want:
            check_submodules(read_submodules(dest, repo_url, runner=runner), policy)
            return CloneResult(path=dest, commit=want)
        shutil.rmtree(dest)
    root.mkdir(parents=True, exist_ok=True)
    stage = root / f".{name}.{os.getpid()}-{secrets.token_hex(3)}.clone"
    res = clone_verified(repo_url, want, stage, policy, runner=runner, timeout=timeout, submodules=False)
    try:
        check_submodules(read_submodules(stage, repo_url, runner=runner), policy)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    os.rename(stage, dest)
    return CloneResult(path=dest, commit=res.commit, commands=res.commands)
