"""Fix plans: what would make a workflow runnable, as data the user approves before anything happens.

A :class:`Plan` lists actions (download a model, move a misplaced model, install a node pack
at a pinned commit, update ComfyUI core) and everything unresolved (UNCERTAIN or NOT_FOUND,
with candidates for the user to choose from). It is built from small typed inputs
(:class:`PlanInputs`) so it does not depend on how readiness and resolution were computed:
``agent/planning.py::plan_fix`` fills them from readiness and resolver results, calls
:func:`build_plan`, and the ``fix`` command saves the result with :func:`save_plan`.
``agent/approval.py`` binds a token to the saved file's sha256 and ``agent/executor.py`` runs it.

Its id is the sha256 of its canonical JSON (sorted keys, no whitespace) without the id,
timestamp and free-disk reading, so the same findings give the same id and any edit gives a new one.
Plan files are written once and never modified; choosing a candidate, allowing a pickle or dropping an
action makes a new plan file with a new id and ``parent_plan`` pointing back.

Deliberately not here: network access, disk writes other than the plan files, and running anything.
Building a plan only decides; every path in it is relative to the ComfyUI folder and has passed the
name guards of ``tools/paths.py`` (a name that fails them becomes a REJECTED entry or a warning,
never an action).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from comfyfixer.tools.candidates import DownloadCandidate
from comfyfixer.tools.errors import InputError, UnsafePathError
from comfyfixer.tools.model_folders import canonical_folder
from comfyfixer.tools.model_folders import placement_dir as table_placement
from comfyfixer.tools.packs.requirements import PackageChange
from comfyfixer.tools.paths import atomic_write, safe_filename, safe_join, safe_relpath
from comfyfixer.tools.text import inert

PLAN_FORMAT: Literal["comfyfixer.plan/1"] = "comfyfixer.plan/1"


def placement_dir(folder: str) -> str:
    """Where a new file for a folder key goes: ComfyUI's table (``tools/model_folders.py``: ``unet`` →
    ``models/diffusion_models``, ``t2i_adapter`` → ``models/controlnet``); other keys get ``models/<key>``
    (checked as a path name, so a key from a workflow cannot point elsewhere).
    """
    key = canonical_folder(folder) or folder.strip()
    return table_placement(key) or "models/" + safe_filename(key, what="model folder")


# --- inputs ---------------------------------------------------------------------------------------


class ModelNeed(BaseModel):
    """A model file the workflow needs, with the resolver's verdict."""

    filename: str = Field(description="Name the workflow uses (may contain a sub-folder).")
    folder: str | None = Field(description="Folder key (checkpoints, loras, ...); None if unknown.")
    node_ids: list[str] = Field(default_factory=list, description="Nodes that load it.")
    verdict: Literal["RESOLVED", "UNCERTAIN", "NOT_FOUND"] = Field(description="Resolver verdict.")
    candidates: list[DownloadCandidate] = Field(default_factory=list, description="Best first.")
    reason: str = Field(default="", description="Why UNCERTAIN / NOT_FOUND.")


class MisplacedNeed(BaseModel):
    """A model that exists where its loader does not look."""

    filename: str = Field(description="The name the workflow uses.")
    found_in: str = Field(description="Path of the file, relative to the ComfyUI folder.")
    expected_folder: str = Field(description="Folder key the loader reads.")


class PackRef(BaseModel):
    """A node pack as the resolver names it: its registry or ComfyUI-Manager ``id``, the git ``reference``
    to clone, and the ``commit`` to pin (None installs the default branch head and asks for confirmation).
    """
    id: str = Field(description="Registry / ComfyUI-Manager id.")
    reference: str = Field(description="Git repository URL.")
    commit: str | None = Field(default=None, description="Commit to pin; None = the default branch head at install time.")
    hint_only: bool = Field(default=False, description="Only the workflow's aux_id names this repository (no catalog).")
    check: PackCheck | None = Field(default=None, description="What plan time found out (version, requirements).")


class PackCheck(BaseModel):
    """What plan time found out about one pack before anyone approves it (``agent/planning.py`` fills it).

    The version: where the pinned commit comes from (``version_source``: the commit the workflow's
    nodes record, the git tag of the registry version they record, the remote's head, a commit given
    in the inputs, or none) and what is installed instead of the recorded version. The requirements:
    the verdict of the dry run in ComfyUI's own Python (``vetting``; ``not_checked`` says why in
    ``not_checked``), the package changes it showed, the guarded ones (torch, CUDA, numpy major —
    accepted only by naming the item with ``--confirm``), and the exact ``name==version`` pins
    (``resolved``) that apply time installs as constraints. ``refusal`` is set when nothing can make
    the install acceptable (git refused the repository, a requirement line was refused, two packs
    conflict): the plan then lists the pack as unresolved instead of as an action.
    """
    version_source: Literal["recorded_commit", "registry_tag", "remote_head", "given", "unpinned"] = "unpinned"
    recorded_version: str | None = Field(default=None, description="The version the workflow's nodes record.")
    installed_instead: str | None = Field(default=None, description="Set when not the recorded version is installed.")
    warnings: list[str] = Field(default_factory=list, description="Mixed versions, registry or tag look-up problems.")
    vetting: Literal["ok", "needs_confirmation", "refused", "not_checked"] = "not_checked"
    not_checked: str | None = Field(default=None, description="Why the requirements were not checked.")
    refusal: str | None = Field(default=None, description="Why the pack cannot be installed by us at all.")
    reasons: list[str] = Field(default_factory=list, description="Why the verdict is not ok, one line each.")
    accept_hint: str | None = Field(default=None, description="How to accept what can be accepted.")
    requirements: list[str] = Field(default_factory=list, description="The pack's sanitised requirements.")
    changes: list[PackageChange] = Field(default_factory=list, description="What pip would change (dry run).")
    guarded: list[str] = Field(default_factory=list, description="GPU-stack / numpy-major packages it would change.")
    needs_sdist: list[str] = Field(default_factory=list, description="Packages only available as source archives.")
    resolved: list[str] = Field(default_factory=list, description="name==version pins installed as constraints.")
    python: str | None = Field(default=None, description="ComfyUI's Python the check ran in.")
    python_sha256: str | None = Field(default=None, description="sha256 of that interpreter; apply refuses another.")
    index_url: str | None = Field(default=None, description="The package index pip used (and will use).")


class NodeTypeNeed(BaseModel):
    """A node class this ComfyUI lacks.

    ``status`` comes from the node resolver: RESOLVED (``packs[0]`` is installed), UNCERTAIN (several
    ``packs``, the user chooses), NOT_FOUND, CORE_UPDATE (the class is in a newer ComfyUI, so the plan
    suggests ``git pull`` instead of a pack) and DISABLED (the pack is present but disabled; left to the
    user). ``reason`` explains anything but RESOLVED.
    """

    class_type: str
    status: Literal["RESOLVED", "UNCERTAIN", "NOT_FOUND", "CORE_UPDATE", "DISABLED"]
    packs: list[PackRef] = Field(default_factory=list)
    reason: str = ""


class PlanInputs(BaseModel):
    """Everything the plan builder needs; readiness + resolver results are converted into this."""

    comfyui_dir: Path = Field(description="The ComfyUI folder.")
    workflows: list[str] = Field(default_factory=list, description="Workflow files the plan is for.")
    models: list[ModelNeed] = Field(default_factory=list)
    misplaced: list[MisplacedNeed] = Field(default_factory=list)
    node_types: list[NodeTypeNeed] = Field(default_factory=list)
    comfyui_python: str | None = Field(default=None, description="ComfyUI's Python, for pack requirements.")
    manager_cli: str | None = Field(default=None, description="ComfyUI-Manager's cm-cli.py, when installed.")


class PlanPolicy(BaseModel):
    """Limits copied into the plan from settings, so a plan file records the rules it was checked against.

    ``max_download_bytes`` caps one download and ``max_total_bytes`` the whole plan (bytes);
    ``license_allowlist`` lists licence ids that need no confirmation (empty: all do not). Going over a
    limit does not drop an action: it adds a ``confirm`` reason or a warning the user must accept.
    """
    max_download_bytes: int
    max_total_bytes: int
    license_allowlist: list[str] = Field(default_factory=list)


# --- the plan -----------------------------------------------------------------------------------


class DownloadAction(BaseModel):
    """Download one model file into the folder its loader reads.

    ``url``/``source``/``license``/``gated`` come from the chosen :class:`SourceCandidate`. ``folder`` is the
    folder key and ``target`` the POSIX path under the ComfyUI folder (see :func:`placement_dir`). ``size`` is
    in bytes (None if the source did not say) and ``sha256`` is lower-case hex when known; the download engine
    refuses a file whose hash differs. ``gated`` marks a Hugging Face repository whose licence must be
    accepted online first. ``confirm`` lists why the user must confirm this one explicitly (over the size cap,
    licence not on the allow-list); it is empty for a candidate the user picked with ``choose``.
    """
    kind: Literal["download_model"] = "download_model"
    item: str = Field(description="Stable id, e.g. model:checkpoints/x.safetensors.")
    url: str
    source: str
    folder: str
    name: str = Field(description="Name the workflow uses (relative to the model folder).")
    target: str = Field(description="Destination relative to the ComfyUI folder (POSIX).")
    size: int | None = None
    size_exact: bool = Field(default=False, description="The size is exact (Hugging Face) rather than rounded "
                             "(Civitai sizeKB, catalog '2.0GB'); only an exact size is enforced at download.")
    sha256: str | None = None
    license: str | None = None
    token: Literal["civitai", "hf"] | None = Field(default=None, description="Which token the source needs.")
    gated: bool = False
    allow_unsafe_pickle: bool = Field(default=False, description="The user accepted a pickle whose imports are outside the weights allow-list.")
    confirm: list[str] = Field(default_factory=list, description="Reasons the user must confirm this one explicitly.")


class MoveAction(BaseModel):
    """Move a model that exists where its loader does not look (``source`` → ``target``, both relative to the
    ComfyUI folder). Built from a :class:`MisplacedNeed`; ``confirm`` is empty today.
    """
    kind: Literal["move_model"] = "move_model"
    item: str
    source: str = Field(description="Current path relative to the ComfyUI folder.")
    target: str = Field(description="New path relative to the ComfyUI folder.")
    confirm: list[str] = Field(default_factory=list)


class InstallPackAction(BaseModel):
    """Install a node pack by git clone into staging, detached checkout of ``commit``, move into
    ``target`` and ``pip install -r requirements.txt`` with ComfyUI's Python.

    ``commands`` are those steps with ``<staging>`` and ``<comfyui_python>`` placeholders (see
    :func:`pack_commands`); the executor runs its own hardened equivalent (``tools/packs``), so the list is
    what the user reads and approves. ``class_types`` are the missing classes this pack provides.
    ``confirm`` asks for explicit consent when the commit is not pinned, the URL is not https, or the
    plan-time ``check`` found something to accept (see :func:`pack_confirmations`); ``owner`` and
    ``hint_only`` say whose repository it is and whether only the workflow names it.
    """
    kind: Literal["install_node_pack"] = "install_node_pack"
    item: str
    pack_id: str
    repo_url: str
    commit: str | None = None
    target: str = Field(description="custom_nodes/<name> relative to the ComfyUI folder.")
    class_types: list[str] = Field(default_factory=list)
    commands: list[list[str]] = Field(default_factory=list, description="Exactly what will run.")
    alternative: list[list[str]] = Field(
        default_factory=list, description="The same install through ComfyUI-Manager's cm-cli (not pinned), if present.")
    confirm: list[str] = Field(default_factory=list)
    owner: str | None = Field(default=None, description="The repository's owner (host/owner), shown prominently.")
    hint_only: bool = Field(default=False, description="Only the workflow's aux_id names this repository.")
    check: PackCheck | None = Field(default=None, description="Version source and requirements check from plan time.")


class LinkPackAction(BaseModel):
    """Put a node pack that lives on this machine (ComfyFixerSmart's own ``comfyfixer_nodes``) into
    ``target`` under ComfyUI's ``custom_nodes``: a symbolic link to ``source`` (``method="symlink"``, the
    pack then follows this checkout) or a copy of it (``"copy"``). A ``target`` that already exists and
    is not that link is left alone."""
    kind: Literal["link_node_pack"] = "link_node_pack"
    item: str
    source: str = Field(description="Absolute path of the pack folder on this machine.")
    target: str = Field(description="custom_nodes/<name> relative to the ComfyUI folder.")
    method: Literal["symlink", "copy"] = "symlink"
    confirm: list[str] = Field(default_factory=list)


class CoreUpdateAction(BaseModel):
    """ComfyUI core lacks ``class_types`` that a newer ComfyUI has. Always ``manual``: ``commands`` (a ``git
    pull`` in the ComfyUI folder) are a suggestion for the user; the executor never updates core itself.
    """
    kind: Literal["update_core"] = "update_core"
    item: str = "core"
    class_types: list[str] = Field(default_factory=list)
    commands: list[list[str]] = Field(default_factory=list, description="Suggested; run by the user, not by us.")
    manual: bool = True
    confirm: list[str] = Field(default_factory=list)


# --- undo (``comfyfixer undo``: agent/snapshots.py builds these from a snapshot) -------------------------


class QuarantineAction(BaseModel):
    """Undo: move what a plan placed (a downloaded file, an installed pack folder) into the quarantine
    folder — never deleted unless ``purge`` (``undo --purge``, files only). Left alone, and reported,
    when the file's sha256 (or the pack's commit) is no longer what the plan placed: a user's edit
    is never clobbered."""
    kind: Literal["quarantine"] = "quarantine"
    item: str
    path: str = Field(description="What to take away, relative to the ComfyUI folder.")
    what: Literal["file", "pack"]
    sha256: str | None = Field(default=None, description="A file must still have this sha256.")
    commit: str | None = Field(default=None, description="A pack must still be at this commit.")
    purge: bool = Field(default=False, description="Delete the file instead of quarantining it.")
    undoes: str = Field(description="The item of the original plan this reverts.")
    confirm: list[str] = Field(default_factory=list)


class MoveBackAction(BaseModel):
    """Undo a move: ``source`` (where the plan moved the file) back to ``target`` (where it was), only
    while ``source`` still has the sha256 it had and ``target`` is free."""
    kind: Literal["move_back"] = "move_back"
    item: str
    source: str = Field(description="Where the file is now, relative to the ComfyUI folder.")
    target: str = Field(description="Where it was before the plan, relative to the ComfyUI folder.")
    sha256: str | None = None
    undoes: str
    confirm: list[str] = Field(default_factory=list)


class RemoveCopyAction(BaseModel):
    """Undo a move that kept the original for another workflow: remove the link or copy the plan made
    at ``path``, only while it still has ``sha256`` and the ``original`` still exists."""
    kind: Literal["remove_copy"] = "remove_copy"
    item: str
    path: str
    original: str
    sha256: str | None = None
    undoes: str
    confirm: list[str] = Field(default_factory=list)


class UnlinkPackAction(BaseModel):
    """Undo ``comfyui install-nodes`` with a link: remove the symbolic link at ``path``, only while it is
    still a link to ``source`` (the pack folder itself is never touched). A copied pack is undone with a
    :class:`QuarantineAction` instead."""
    kind: Literal["unlink_node_pack"] = "unlink_node_pack"
    item: str
    path: str = Field(description="custom_nodes/<name> relative to the ComfyUI folder.")
    source: str = Field(description="The folder the link must still point to.")
    undoes: str
    confirm: list[str] = Field(default_factory=list)


class RestorePythonAction(BaseModel):
    """Undo requirement installs: bring ComfyUI's Python back to the snapshot's ``pip freeze``.

    ``install`` are the frozen pins that changed (binary-only, from ``index_url``, checked like a
    pack's requirements), ``uninstall`` the distributions added since. ``guarded`` lists GPU-stack
    changes, accepted only by naming the item with ``--confirm``."""
    kind: Literal["restore_python"] = "restore_python"
    item: str = "python"
    python: str
    python_sha256: str | None = None
    install: list[str] = Field(default_factory=list, description="name==version pins to put back.")
    uninstall: list[str] = Field(default_factory=list, description="Distributions added since the snapshot.")
    index_url: str | None = None
    changes: list[PackageChange] = Field(default_factory=list, description="What the restore changes (dry run).")
    guarded: list[str] = Field(default_factory=list)
    undoes: str = "python"
    confirm: list[str] = Field(default_factory=list)


UNDO_KINDS = ("quarantine", "move_back", "remove_copy", "unlink_node_pack", "restore_python")
UndoAction = QuarantineAction | MoveBackAction | RemoveCopyAction | UnlinkPackAction | RestorePythonAction

Action = Annotated[DownloadAction | MoveAction | InstallPackAction | LinkPackAction | CoreUpdateAction | QuarantineAction
                   | MoveBackAction | RemoveCopyAction | UnlinkPackAction | RestorePythonAction,
                   Field(discriminator="kind")]
_ACTIONS: TypeAdapter[list[Action]] = TypeAdapter(list[Action])


class Unresolved(BaseModel):
    """Something the plan could not turn into an action.

    ``item`` is the id used by ``choose`` (``model:<folder>/<name>`` or ``node:<class>``); ``kind`` says
    which; ``verdict`` is the resolver's (UNCERTAIN, NOT_FOUND, DISABLED), REJECTED when a name failed the
    path guards, or REFUSED when a pack's plan-time check refused it. ``folder`` is the model folder key when
    known. ``candidates`` are numbered from 1 in the summary; for node types each is a pack with
    ``source="pack:<id>"``, its repository in ``url`` and the pinned commit (if any) in ``note``.
    """
    item: str
    kind: Literal["model", "node_type"]
    verdict: str
    name: str
    folder: str | None = None
    reason: str = ""
    candidates: list[DownloadCandidate] = Field(default_factory=list)


class Plan(BaseModel):
    """A fix plan: actions to approve, what is still unresolved, and the totals the user decides on.

    Fields: ``format`` (the file format tag), ``plan_id`` (see :meth:`content_id`, empty until
    :func:`finalize`), ``created_at`` (ISO UTC, seconds), ``comfyui_dir`` (absolute), ``workflows``
    (absolute paths), ``actions`` (discriminated on ``kind``, executed in this order), ``unresolved``,
    ``total_download_bytes`` (known sizes only; ``unknown_sizes`` counts the rest), ``free_bytes`` (free
    space where the files go, when the plan was made), ``policy`` and ``warnings`` (plain text).
    Build plans with :func:`build_plan` and change them only through :func:`choose`, :func:`allow_pickle`
    and :func:`drop`, which all end in :func:`finalize`.
    """
    format: Literal["comfyfixer.plan/1"] = PLAN_FORMAT
    plan_id: str = ""
    created_at: str = ""
    comfyui_dir: str
    workflows: list[str] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    unresolved: list[Unresolved] = Field(default_factory=list)
    total_download_bytes: int = 0
    unknown_sizes: int = Field(default=0, description="Downloads whose size the source did not say.")
    free_bytes: int | None = None
    policy: PlanPolicy
    warnings: list[str] = Field(default_factory=list)
    parent_plan: str | None = Field(default=None, description="Plan this one was derived from by choose/drop.")
    undo_of: str | None = Field(default=None, description="For an undo plan: the id of the plan it reverts.")

    def content_id(self) -> str:
        """sha256 of the canonical JSON without ``plan_id``, ``created_at`` and the disk reading."""
        # ``undo_of`` only counts when set, so plans made before it existed keep their ids
        skip = {"plan_id", "created_at", "free_bytes"} | ({"undo_of"} if self.undo_of is None else set())
        data = self.model_dump(mode="json", exclude=skip)
        canon = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    def with_id(self) -> Plan:
        """A copy with ``plan_id`` set from the current content; call after any change."""
        return self.model_copy(update={"plan_id": self.content_id()})

    def action(self, item: str) -> Action | None:
        """The action whose ``item`` id is ``item``, or None."""
        return next((a for a in self.actions if a.item == item), None)

    @property
    def disk_ok(self) -> bool:
        """False only when the free space is known and the known download total exceeds it."""
        return self.free_bytes is None or self.total_download_bytes <= self.free_bytes


# --- building --------------------------------------------------------------------------------------


def _token_for(candidate: DownloadCandidate) -> Literal["civitai", "hf"] | None:
    """Which token a candidate's download needs: ``civitai`` for every Civitai source, ``hf`` for gated or
    token-needing Hugging Face repos, else None.
    """
    src = candidate.source.lower()
    url = candidate.url.lower()
    if "civitai" in src or "civitai.com" in url:
        return "civitai" if candidate.needs_token or "civitai" in src else None
    if src.startswith("hf") or "huggingface" in src or "huggingface.co" in url:
        return "hf" if (candidate.needs_token or candidate.gated) else None
    return None


def _exact_size_source(cand: DownloadCandidate) -> bool:
    """Hugging Face reports byte-exact sizes; Civitai (float KiB) and catalogs ("2.0GB") round them."""
    return cand.source.lower().startswith("hf") or "huggingface.co/" in cand.url


def _download_action(need: ModelNeed, cand: DownloadCandidate, policy: PlanPolicy, *, chosen: bool) -> DownloadAction:
    """The download action for ``need`` from candidate ``cand``: target under the loader's folder, sha256
    lower-cased, size exactness by source, token by source, and ``confirm`` reasons for the size cap and the
    licence allow-list (none when the user ``chosen`` the candidate).
    """
    folder = need.folder or "checkpoints"  # callers resolve the folder first
    name = str(safe_relpath(need.filename, what="model file name"))
    target = str(PurePosixPath(placement_dir(folder)) / name)
    confirm: list[str] = []
    if cand.size is not None and cand.size > policy.max_download_bytes:
        confirm.append(f"size {cand.size} is over the per-download cap {policy.max_download_bytes}")
    if policy.license_allowlist and (cand.license or "unknown") not in policy.license_allowlist:
        confirm.append(f"license {cand.license or 'unknown'!r} is not on the allow-list")
    if chosen:
        confirm = []  # the user picked this candidate explicitly
    return DownloadAction(
        item=f"model:{folder}/{name}", url=cand.url, source=cand.source, folder=folder, name=name, target=target,
        size=cand.size, size_exact=cand.size is not None and _exact_size_source(cand), sha256=cand.sha256.lower() if cand.sha256 else None, license=cand.license,
        token=_token_for(cand), gated=cand.gated, confirm=confirm,
    )


REGISTRY_HOSTS = ("registry.comfy.org",)


def registry_only(url: str) -> bool:
    """A Comfy registry page (``registry.comfy.org``), which names a pack but is not a git repository.

    Such a pack cannot be installed by cloning, so the plan leaves it unresolved with a hint instead.
    """
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower() in REGISTRY_HOSTS


def pack_dirname(pack: PackRef) -> str:
    """The folder name under custom_nodes/: the repository's name (what ComfyUI-Manager uses)."""
    tail = pack.reference.rstrip("/").rsplit("/", 1)[-1]
    tail = tail[:-4] if tail.endswith(".git") else tail
    return safe_filename(tail or pack.id, what="node pack folder")


def pack_commands(pack: PackRef, target: str, python: str | None) -> list[list[str]]:
    """The commands an install runs, as the user sees them in the plan.

    ``<staging>`` and ``<comfyui_python>`` stay as placeholders when not known; the clone is
    ``--no-checkout`` followed by a detached checkout so nothing from the default branch is ever checked
    out when a commit is pinned (``HEAD`` otherwise). The requirements are installed as the executor
    does it (``tools/packs/requirements.py``): isolated, binary-only, from the checked index, the
    sanitised requirement lines only and constrained to the pins of the plan-time check, when there was one.
    """
    cmds = [["git", "clone", "--no-checkout", pack.reference, f"<staging>/{PurePosixPath(target).name}"]]
    cmds.append(["git", "-C", f"<staging>/{PurePosixPath(target).name}", "checkout", "--detach", pack.commit or "HEAD"])
    cmds.append(["mv", f"<staging>/{PurePosixPath(target).name}", target])
    check = pack.check
    pip = [(check.python if check and check.python else None) or python or "<comfyui_python>", "-I", "-m", "pip",
           "--isolated", "install"]
    if check and check.index_url:
        pip += ["--index-url", check.index_url]
    pip += ["--only-binary", ":all:"] if not (check and check.needs_sdist) else []
    pip += ["-r", f"<sanitised {target}/requirements.txt>"]
    if check and check.resolved:
        pip += ["-c", "<the pins shown above>"]
    cmds.append(pip)
    return cmds


def repo_owner(url: str) -> str:
    """``host/owner`` of a repository URL (``github.com/ltdrdata``), the part a user must recognise."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    segs = [s for s in parts.path.split("/") if s]
    return f"{parts.hostname or '?'}/{segs[0]}" if len(segs) >= 2 else (parts.hostname or url)


def refusal_text(pack: PackRef) -> str:
    """Why a pack is not installed, with every reason and what the user can do (one line)."""
    check = pack.check
    assert check is not None and check.refusal
    text = f"REFUSED pack '{pack.id}' from {pack.reference} (owner {repo_owner(pack.reference)}): {check.refusal}"
    more = [r for r in check.reasons if r != check.refusal]
    if more:
        text += "; " + "; ".join(more)
    return text + (f" — {check.accept_hint}" if check.accept_hint else "")


def pack_confirmations(pack: PackRef) -> list[str]:
    """The ``confirm`` reasons plan time adds to a pack install: a repository only the workflow names,
    requirements not checked, changes needing consent; guarded (GPU stack) changes say they are
    refused unless the item is named with ``--confirm`` (``--confirm-all`` does not cover them)."""
    out: list[str] = []
    if pack.hint_only:
        out.append(f"the repository {pack.reference} (owner {repo_owner(pack.reference)}) comes only from the "
                   "workflow's aux_id, not from a catalog or the registry")
    check = pack.check
    if check is None or check.vetting == "not_checked":
        why = check.not_checked if check and check.not_checked else "no requirements check was made"
        out.append(f"its Python requirements were NOT checked ({why}); they would be installed unchecked")
        return out
    if check.guarded:
        out.append(f"REFUSED by default: would change {', '.join(check.guarded)} in ComfyUI's Python ("
                   + "; ".join(r for r in check.reasons if r.startswith("would change")) + ") — to accept, name "
                   f"it: comfyfixer approve PLAN --confirm pack:{pack.id}")
    if check.vetting == "needs_confirmation" or check.needs_sdist or any(c.change == "downgrade" for c in check.changes):
        out += [r for r in check.reasons if not r.startswith("would change")]
    return out


def confirm_by_name_only(action: Action) -> bool:
    """Actions ``--confirm-all`` does not accept: a change to the GPU stack or numpy's major version."""
    if isinstance(action, InstallPackAction):
        return bool(action.check and action.check.guarded)
    if isinstance(action, RestorePythonAction):
        return bool(action.guarded)
    return False


_PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")


def _pickle_warning(item: str, need: ModelNeed) -> list[str]:
    """Say before approval that a pickle-format file is checked (and may be refused) when it arrives, and
    name a ``.safetensors`` candidate of the same model when a source offers one."""
    if not need.filename.lower().endswith(_PICKLE_SUFFIXES):
        return []
    safer = next((c for c in need.candidates if (c.filename or c.url).lower().endswith(".safetensors")), None)
    text = (f"{item} is a pickle file: on arrival its imports are checked against what a weights file needs, "
            f"and it is refused (quarantined) if it imports anything else")
    if safer is not None:
        text += (f"; a .safetensors file of it exists at {safer.url} (point the workflow's loader at "
                 f"{safer.filename or 'it'} to use the safer format)")
    return [text]


def build_plan(inputs: PlanInputs, policy: PlanPolicy, *, free_bytes: int | None = None) -> Plan:
    """Turn findings into a plan; never touches the disk (``free_bytes`` is measured by the caller).

    Models: RESOLVED with candidates becomes a download of the first (best) candidate; anything else, or a
    model whose folder is unknown, becomes :class:`Unresolved`; a name that fails the path guards becomes a
    REJECTED entry. Duplicate model items (the same file used by several nodes or workflows) are kept once.
    Misplaced models become moves. Node types are grouped per pack (one install for all the classes it
    provides); registry-only packs stay unresolved, and packs whose plan-time check refused them become
    REFUSED entries; CORE_UPDATE classes are gathered into one manual core update. A pickle-format download
    adds a warning (naming a ``.safetensors`` source of it when a candidate offers one). The ComfyUI folder is
    resolved to an absolute path so the plan applies from any working directory. The result has its totals and
    id computed (:func:`finalize`).
    """
    actions: list[Action] = []
    unresolved: list[Unresolved] = []
    warnings: list[str] = []
    comfy = Path(inputs.comfyui_dir).expanduser().resolve()  # plans are applied from any working directory
    seen: set[str] = set()
    for need in inputs.models:
        # the loader's folder decides where ComfyUI looks; without it, the source's folder kind is the best guess
        folder = need.folder or next((c.folder for c in need.candidates if c.folder), None)
        item_name = need.filename.replace("\\", "/")
        item = f"model:{folder or '?'}/{item_name}"
        if item in seen:
            continue
        seen.add(item)
        if folder is None:
            unresolved.append(Unresolved(
                item=item, kind="model", verdict="UNCERTAIN", name=need.filename, folder=None,
                reason="the model folder is unknown (custom loader?); put the file in place by hand",
                candidates=need.candidates))
            continue
        need = need.model_copy(update={"folder": folder})
        try:
            safe_relpath(need.filename, what="model file name")
            placement_dir(folder)
        except UnsafePathError as exc:
            unresolved.append(Unresolved(item=item, kind="model", verdict="REJECTED", name=need.filename,
                                         folder=need.folder, reason=str(exc)))
            continue
        if need.verdict == "RESOLVED" and need.candidates:
            actions.append(_download_action(need, need.candidates[0], policy, chosen=False))
            warnings += _pickle_warning(item, need)
        else:
            unresolved.append(Unresolved(
                item=item, kind="model", verdict=need.verdict, name=need.filename, folder=need.folder,
                reason=need.reason or ("several candidates; pick one with --choose" if need.candidates else
                                       "no source found"), candidates=need.candidates))
    for mis in inputs.misplaced:
        try:
            src = str(safe_relpath(mis.found_in, what="model path"))
            dst = str(PurePosixPath(placement_dir(mis.expected_folder)) / safe_relpath(mis.filename))
        except UnsafePathError as exc:
            warnings.append(f"not moving {mis.filename}: {exc}")
            continue
        actions.append(MoveAction(item=f"move:{mis.expected_folder}/{mis.filename}", source=src, target=dst))
    packs: dict[str, InstallPackAction] = {}
    core: list[str] = []
    for nt in inputs.node_types:
        if nt.status == "CORE_UPDATE":
            core.append(nt.class_type)
            continue
        if nt.status == "RESOLVED" and nt.packs:
            pack = nt.packs[0]
            if registry_only(pack.reference):
                # A registry page is not a git repository: cloning it would fail (or fetch HTML).
                unresolved.append(Unresolved(
                    item=f"node:{nt.class_type}", kind="node_type", verdict="UNCERTAIN", name=nt.class_type,
                    reason=(f"pack '{pack.id}' is known only by its registry id; install it with "
                            f"`comfy node install {pack.id}` or ComfyUI-Manager, or run `comfyfixer catalogs "
                            "refresh` so its repository is known"),
                    candidates=[DownloadCandidate(source="pack:" + pack.id, url=pack.reference, note="registry")]))
                continue
            if pack.id in packs:
                packs[pack.id].class_types.append(nt.class_type)
                continue
            try:
                target = f"custom_nodes/{pack_dirname(pack)}"
            except UnsafePathError as exc:
                warnings.append(f"not installing {pack.id}: {exc}")
                continue
            if pack.check is not None and pack.check.refusal:
                # nothing the user can confirm makes this install safe: not an action, and no candidate to choose
                unresolved.append(Unresolved(
                    item=f"node:{nt.class_type}", kind="node_type", verdict="REFUSED", name=nt.class_type,
                    reason=refusal_text(pack)))
                continue
            confirm = [] if pack.commit else ["no pinned commit: the default branch head will be installed"]
            if not pack.reference.startswith("https://"):
                confirm.append("repository is not an https URL")
            confirm += pack_confirmations(pack)
            alternative = ([[inputs.comfyui_python or "<comfyui_python>", inputs.manager_cli, "install", pack.id]]
                           if inputs.manager_cli else [])
            packs[pack.id] = InstallPackAction(
                item=f"pack:{pack.id}", pack_id=pack.id, repo_url=pack.reference, commit=pack.commit, target=target,
                class_types=[nt.class_type], commands=pack_commands(pack, target, inputs.comfyui_python),
                alternative=alternative, confirm=confirm, owner=repo_owner(pack.reference), hint_only=pack.hint_only,
                check=pack.check)
        else:
            unresolved.append(Unresolved(
                item=f"node:{nt.class_type}", kind="node_type", verdict=nt.status, name=nt.class_type,
                reason=nt.reason or ("several packs provide it" if nt.packs else "no pack known"),
                candidates=[DownloadCandidate(source="pack:" + p.id, url=p.reference, note=p.commit or "")
                            for p in nt.packs]))
    actions.extend(packs.values())
    if core:
        actions.append(CoreUpdateAction(class_types=sorted(core), commands=[["git", "-C", str(comfy), "pull"]]))
    plan = Plan(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        comfyui_dir=str(comfy), workflows=[str(Path(w).expanduser().resolve()) for w in inputs.workflows],
        actions=actions, unresolved=unresolved,
        policy=policy, warnings=warnings, free_bytes=free_bytes,
    )
    return finalize(plan)


def finalize(plan: Plan) -> Plan:
    """Recompute the download total, the unknown-size count and the total-cap warning, then the id.

    Idempotent: an earlier total-cap warning is replaced, not repeated. Every edit function ends here, so
    a plan is never saved with a stale id.
    """
    downloads = [a for a in plan.actions if isinstance(a, DownloadAction)]
    total = sum(a.size or 0 for a in downloads)
    unknown = sum(1 for a in downloads if a.size is None)
    warnings = [w for w in plan.warnings if not w.startswith("total download")]
    if total > plan.policy.max_total_bytes:
        warnings.append(f"total download {total} bytes is over the plan cap {plan.policy.max_total_bytes}")
    plan = plan.model_copy(update={"total_download_bytes": total, "unknown_sizes": unknown, "warnings": warnings})
    return plan.with_id()


def free_disk_bytes(comfyui_dir: Path) -> int | None:
    """Free bytes on the disk holding ``comfyui_dir`` (or its nearest existing parent, for a folder not yet
    created); None if the disk cannot be read.
    """
    p = Path(comfyui_dir)
    while not p.exists() and p.parent != p:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


# --- editing (choose / drop) --------------------------------------------------------------------


def choose(plan: Plan, item: str, index: int) -> Plan:
    """Turn unresolved ``item``'s candidate ``index`` (1-based) into an action; returns a new plan.

    A model becomes a download with no ``confirm`` reasons (the user chose it), placed in the entry's
    folder or else the candidate's. A node type joins an existing install of the same pack or becomes a new
    install of the candidate's repository at the commit kept in its ``note``. Raises ``InputError`` for an
    unknown item, an index out of range, or a model whose folder nobody knows.
    """
    entry = next((u for u in plan.unresolved if u.item == item), None)
    if entry is None:
        raise InputError(f"no unresolved item {item!r} in the plan",
                         hint="use an item id from the plan's 'unresolved' list")
    if not 1 <= index <= len(entry.candidates):
        raise InputError(f"{item} has {len(entry.candidates)} candidates; {index} is out of range")
    cand = entry.candidates[index - 1]
    rest = [u for u in plan.unresolved if u.item != item]
    if entry.kind == "model":
        folder = entry.folder or cand.folder
        if folder is None:
            raise InputError(f"{item}: the model folder is unknown, so it cannot be placed automatically",
                             hint="download it by hand into the folder its loader reads")
        need = ModelNeed(filename=entry.name, folder=folder, verdict="RESOLVED", candidates=[cand])
        action: Action = _download_action(need, cand, plan.policy, chosen=True)
        actions = [*plan.actions, action]
    else:
        pack = PackRef(id=cand.source.removeprefix("pack:"), reference=cand.url, commit=cand.note or None)
        existing = next((a for a in plan.actions if isinstance(a, InstallPackAction) and a.pack_id == pack.id), None)
        if existing is not None:
            existing2 = existing.model_copy(update={"class_types": [*existing.class_types, entry.name]})
            actions = [existing2 if a is existing else a for a in plan.actions]
        else:
            target = f"custom_nodes/{pack_dirname(pack)}"
            python = None
            action = InstallPackAction(item=f"pack:{pack.id}", pack_id=pack.id, repo_url=pack.reference,
                                       commit=pack.commit, target=target, class_types=[entry.name],
                                       commands=pack_commands(pack, target, python), owner=repo_owner(pack.reference),
                                       confirm=pack_confirmations(pack))
            actions = [*plan.actions, action]
    derived = plan.model_copy(update={"actions": actions, "unresolved": rest, "parent_plan": plan.plan_id})
    return finalize(derived)


def allow_pickle(plan: Plan, item: str) -> Plan:
    """Let a download be placed even if its pickle imports globals outside the weights allow-list.

    For when the user trusts the author. Returns a new plan; raises ``InputError`` if ``item`` is not a
    download in this plan.
    """
    action = plan.action(item)
    if not isinstance(action, DownloadAction):
        raise InputError(f"no download {item!r} in the plan", hint="use a model:... item id from the plan")
    actions = [a.model_copy(update={"allow_unsafe_pickle": True}) if a is action else a for a in plan.actions]
    return finalize(plan.model_copy(update={"actions": actions, "parent_plan": plan.plan_id}))


def drop(plan: Plan, item: str) -> Plan:
    """A new plan without action ``item``; raises ``InputError`` if the plan has no such action. Dropping does
    not move the item to ``unresolved``: the user decided not to do it.
    """
    if plan.action(item) is None:
        raise InputError(f"no action {item!r} in the plan", hint="use an item id from the plan's actions")
    actions = [a for a in plan.actions if a.item != item]
    return finalize(plan.model_copy(update={"actions": actions, "parent_plan": plan.plan_id}))


# --- files -------------------------------------------------------------------------------------------


def plan_dir(state_dir: Path) -> Path:
    """``<state_dir>/plans``, where plan files and their ``.txt`` summaries live."""
    return Path(state_dir) / "plans"


def save_plan(plan: Plan, state_dir: Path) -> Path:
    """Write ``plans/<plan_id>.json`` plus a readable ``.txt``; never overwrites a different plan.

    Saving the same plan twice returns the existing path. A file with that name but other content (edited
    by hand) raises ``InputError``. The JSON is written exclusively and atomically, so two runs that race
    both end with one complete file; the ``.txt`` is informational and may be rewritten.
    """
    folder = plan_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{plan.plan_id}.json"
    data = plan.model_dump_json(indent=2).encode("utf-8")
    if path.exists():
        if plan_file_content_id(path) == plan.plan_id:
            return path  # the same plan again: keep the first file
        raise InputError(f"{path} exists with other content", hint="the plans folder was edited by hand")
    try:
        atomic_write(path, data, exclusive=True)
    except FileExistsError:  # written by a concurrent run: the same id means the same content
        if plan_file_content_id(path) != plan.plan_id:
            raise InputError(f"{path} exists with other content", hint="the plans folder was edited by hand") from None
    # the readable summary beside it (informational: approval binds to the JSON file only)
    atomic_write(path.with_suffix(".txt"), "\n".join(summary_lines(plan)) + "\n")
    return path


def load_plan(path: Path) -> Plan:
    """Read a plan file and check its id matches its content.

    Raises ``InputError`` when the file cannot be read, is not a plan (first line of the validation error
    only), or its content no longer hashes to its ``plan_id`` (it was edited).
    """
    try:
        raw = Path(path).read_text(encoding="utf-8")
        plan = Plan.model_validate_json(raw)
    except OSError as exc:
        raise InputError(f"cannot read plan {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"{path} is not a comfyfixer plan: {str(exc).splitlines()[0]}") from None
    if plan.content_id() != plan.plan_id:
        raise InputError(f"{path}: plan content does not match its id (edited?)",
                         hint="plans are read-only; run `comfyfixer fix` again to make a new one")
    return plan


def plan_file_content_id(path: Path) -> str | None:
    """The content id of the plan in ``path``, or None if it is missing or not a plan; never raises."""
    try:
        return Plan.model_validate_json(Path(path).read_text(encoding="utf-8")).content_id()
    except (OSError, ValueError):
        return None


def file_digest(path: Path) -> str:
    """sha256 (hex) of the file's bytes exactly as stored; the approval token binds to this, not to the
    content id, so even a whitespace edit voids a token.
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def resolve_target(plan: Plan, rel: str) -> Path:
    """Absolute path of a plan target, checked to stay inside the ComfyUI folder.

    Raises ``UnsafePathError`` for a target that is absolute, climbs out with ``..`` or reaches outside
    through a symlink.
    """
    return safe_join(Path(plan.comfyui_dir), rel, what="plan target")


# --- rendering ------------------------------------------------------------------------------------------


def human_size(n: int | None) -> str:
    """``n`` bytes in decimal units (1 KB = 1000 B) with two decimals, e.g. ``"2.13 GB"``; ``"size unknown"``
    for None; whole bytes below 1 KB.
    """
    if n is None:
        return "size unknown"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1000
    return f"{n} B"


def summary_lines(plan: Plan) -> list[str]:
    """A readable summary (plain text, one line per fact): numbered actions with their item ids and confirm
    reasons, totals, unresolved entries with numbered candidates, then warnings. Written beside the plan
    file, printed by ``fix`` and shown by the assistant.
    """
    lines = [f"Plan {plan.plan_id[:12]} for {len(plan.workflows)} workflow(s) in {plan.comfyui_dir}" if not plan.undo_of
             else f"Undo plan {plan.plan_id[:12]}: reverts plan {plan.undo_of[:12]} in {plan.comfyui_dir}"]
    if not plan.actions:
        lines.append("  nothing to do automatically")
    for i, a in enumerate(plan.actions, 1):
        if isinstance(a, DownloadAction):
            lic = f", license {a.license}" if a.license else ""
            sha = f", sha256 {a.sha256[:12]}…" if a.sha256 else ", sha256 unknown"
            tok = f", needs {a.token} token" if a.token else ""
            lines.append(f"  {i}. download {a.name} → {a.target} ({human_size(a.size)}{sha}) from {a.source}{lic}{tok}")
            lines.append(f"       url: {a.url.split('?')[0]}")
            if a.allow_unsafe_pickle:
                lines.append("       ! placed even if its pickle imports more than weights need (allowed by the user)")
        elif isinstance(a, MoveAction):
            lines.append(f"  {i}. move {a.source} → {a.target}")
        elif isinstance(a, InstallPackAction):
            pin = a.commit[:12] if a.commit else "default branch (not pinned)"
            lines.append(f"  {i}. install node pack {a.pack_id} @ {pin} → {a.target} (for {', '.join(a.class_types)})")
            lines.extend(pack_lines(a))
            lines.extend("       $ " + " ".join(c) for c in a.commands)
            lines.extend("       or, via ComfyUI-Manager (not pinned): $ " + " ".join(c) for c in a.alternative)
        elif isinstance(a, LinkPackAction):
            lines.append(f"  {i}. {'link' if a.method == 'symlink' else 'copy'} node pack {a.source} → {a.target}")
        elif isinstance(a, QuarantineAction):
            how = "DELETE (--purge)" if a.purge else "move to quarantine"
            guard = f"sha256 {a.sha256[:12]}…" if a.sha256 else f"commit {a.commit[:12]}" if a.commit else "unverified"
            lines.append(f"  {i}. {how}: {a.what} {a.path} (only if still {guard}; undoes {a.undoes})")
        elif isinstance(a, MoveBackAction):
            lines.append(f"  {i}. move back {a.source} → {a.target} (only if unchanged; undoes {a.undoes})")
        elif isinstance(a, RemoveCopyAction):
            lines.append(f"  {i}. remove the link/copy {a.path} (the original {a.original} stays; undoes {a.undoes})")
        elif isinstance(a, UnlinkPackAction):
            lines.append(f"  {i}. remove the link {a.path} (only if it still points to {a.source}; undoes {a.undoes})")
        elif isinstance(a, RestorePythonAction):
            lines.append(f"  {i}. restore ComfyUI's Python {a.python} to the snapshot's pip freeze")
            lines.extend(f"       pip install {p}" for p in a.install)
            lines.extend(f"       pip uninstall {p}" for p in a.uninstall)
            lines.extend(f"       {c.change} {c.name} {c.before or '(none)'} -> {c.after}" for c in a.changes)
        else:
            lines.append(f"  {i}. update ComfyUI core (manual) for {', '.join(a.class_types)}")
            lines.extend("       $ " + " ".join(c) for c in a.commands)
        lines.extend(f"       ! confirm: {c}" for c in a.confirm)
        lines.append(f"       item: {a.item}")
    free = human_size(plan.free_bytes) if plan.free_bytes is not None else "unknown"
    unknown = f" + {plan.unknown_sizes} of unknown size" if plan.unknown_sizes else ""
    lines.append(f"Total download {human_size(plan.total_download_bytes)}{unknown}; free disk {free}")
    for u in plan.unresolved:
        lines.append(f"  ? {u.verdict} {u.kind} {u.name}: {u.reason}  [item: {u.item}]")
        for j, c in enumerate(u.candidates, 1):
            extra = f" {human_size(c.size)}" if c.size else ""
            lines.append(f"      {j}) {c.source} {c.filename or ''} {c.url}{extra} {c.note}".rstrip())
    lines.extend(f"  warning: {w}" for w in plan.warnings)
    if not plan.disk_ok:
        lines.append(f"  warning: {disk_warning(plan)}")
    # One line per fact, shown as-is: a newline, ESC or bidi override in a name must not add, erase or
    # reorder lines of what the user approves (here, in plan .txt files, in the assistant).
    return [inert(line) for line in lines]


def pack_lines(a: InstallPackAction) -> list[str]:
    """The lines a user must read before approving a pack: whose repository it is, which version and
    why, and what its requirements change in ComfyUI's Python (added / upgraded / DOWNGRADED, GPU stack)."""
    lines = [f"       repository: {a.repo_url}", f"       owner: {a.owner or repo_owner(a.repo_url)}"
             + ("  (named only by the workflow — not by a catalog or the registry)" if a.hint_only else "")]
    c = a.check
    if c is None:
        lines.append("       requirements: NOT checked")
        return lines
    source = {"recorded_commit": "the commit the workflow records", "registry_tag": "the git tag of the recorded version",
              "remote_head": "the repository's current head", "given": "the commit given in the plan inputs",
              "unpinned": "not pinned"}[c.version_source]
    rec = f" (recorded: {c.recorded_version})" if c.recorded_version else ""
    lines.append(f"       version: {source}{rec}")
    if c.installed_instead:
        lines.append(f"       ! installed instead of the recorded version: {c.installed_instead}")
    lines.extend(f"       ! {w}" for w in c.warnings)
    if c.vetting == "not_checked":
        lines.append(f"       requirements: NOT checked ({c.not_checked or 'unknown reason'})")
        lines.extend(f"         - {r}" for r in c.requirements)
        return lines
    py = f" in {c.python} (sha256 {c.python_sha256[:12]}…)" if c.python and c.python_sha256 else ""
    lines.append(f"       requirements: {c.vetting}{py}, index {c.index_url or 'pip default'}")
    groups = (("added", "add"), ("upgraded", "upgrade"), ("DOWNGRADED", "downgrade"))
    for label, kind in groups:
        changed = [f"{x.name} {x.before + ' -> ' if x.before else ''}{x.after}" for x in c.changes if x.change == kind]
        if changed:
            lines.append(f"         {label}: {', '.join(changed)}")
    if c.resolved:
        lines.append(f"         pins (installed as constraints): {', '.join(c.resolved)}")
    gpu = [x for x in c.changes if x.guarded]
    if gpu:
        lines.append("         ! GPU stack / numpy major: " + ", ".join(
            f"{x.name} {x.before or '(none)'} -> {x.after}" for x in gpu))
    lines.extend(f"         ! {r}" for r in c.reasons)
    if c.accept_hint and not c.guarded:
        lines.append(f"         to accept: {c.accept_hint}")
    return lines


def disk_warning(plan: Plan) -> str:
    """The "not enough disk space" line; added at render time, not kept in ``warnings``, because free disk is
    measured when the plan is made and is kept out of the id so a re-run gives the same plan.
    """
    return f"not enough disk space: {plan.total_download_bytes} bytes to download, {plan.free_bytes} free"


def to_json_summary(plan: Plan, path: Path) -> dict[str, Any]:
    """What ``fix --json`` prints: the plan file path and id, every action and unresolved entry in full, the
    byte totals and the warnings (the disk warning included when it applies).
    """
    return {
        "plan_file": str(path),
        "plan_id": plan.plan_id,
        "actions": [a.model_dump(mode="json") for a in plan.actions],
        "unresolved": [u.model_dump(mode="json") for u in plan.unresolved],
        "total_download_bytes": plan.total_download_bytes,
        "free_bytes": plan.free_bytes,
        "warnings": plan.warnings + ([] if plan.disk_ok else [disk_warning(plan)]),
    }
