"""The pack version a workflow was made with, and what to install for it.

Recent ComfyUI frontends record on every node ``properties.cnr_id`` (registry id) or
``aux_id`` (``owner/repo``) and ``properties.ver``: a registry semver (``1.6.0``) or, for
packs installed from git, the commit id. :func:`collect_versions` gathers what the nodes of
one pack record (several different values in one workflow are reported, not hidden);
:func:`choose_version` decides what to install:

* a commit id → that commit (``clone_verified`` checks it out and verifies it);
* a registry version → the registry's record of that version (its archive URL) and, for a git
  install, the commit of the matching git tag when the repository has one;
* otherwise a newer version is installed and the result says so (``installed_instead``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field

from comfyfixer.tools.comfy_registry import ComfyRegistryClient
from comfyfixer.tools.errors import ComfyFixerError, NotFound
from comfyfixer.tools.workflow.graph import GraphNode

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")  # what the registry's install endpoint accepts


class PackIdentity(BaseModel):
    """The names a pack goes by in node properties."""

    pack_id: str = Field(description="Registry / Manager id (matched against cnr_id).")
    repo_url: str | None = Field(default=None, description="Repository URL; its owner/repo is matched against aux_id.")

    def names(self) -> set[str]:
        names = {self.pack_id.strip().lower()}
        if self.repo_url:
            parts = self.repo_url.strip().rstrip("/").removesuffix(".git").split("/")
            if len(parts) >= 2:
                names |= {f"{parts[-2]}/{parts[-1]}".lower(), parts[-1].lower()}
        return names


class RecordedVersion(BaseModel):
    """One ``ver`` value and the nodes that record it."""

    version: str
    kind: Literal["commit", "registry", "other"]
    node_ids: list[str] = Field(default_factory=list)
    class_types: list[str] = Field(default_factory=list)


def _kind(ver: str) -> Literal["commit", "registry", "other"]:
    if _COMMIT.match(ver.lower()):
        return "commit"
    try:
        Version(ver)
        return "registry"
    except InvalidVersion:
        return "other"


def collect_versions(nodes: Iterable[GraphNode], pack: PackIdentity) -> list[RecordedVersion]:
    """The ``ver`` values recorded by the nodes that name ``pack`` (by ``cnr_id`` or ``aux_id``), most used first.

    A node's ``ver`` belongs to the pack its own ``cnr_id``/``aux_id`` names, so nodes that name
    nothing, or another pack, are not counted.
    """
    names = pack.names()
    found: dict[str, RecordedVersion] = {}
    for node in nodes:
        props = node.properties or {}
        ids = {str(props.get(k) or "").strip().lower() for k in ("cnr_id", "aux_id")} - {""}
        ver = str(props.get("ver") or "").strip()
        if not ver or not ids & names:
            continue
        key = ver.lower() if _kind(ver) == "commit" else ver
        rec = found.setdefault(key, RecordedVersion(version=key, kind=_kind(ver)))
        rec.node_ids.append(node.id)
        if node.class_type not in rec.class_types:
            rec.class_types.append(node.class_type)
    return sorted(found.values(), key=lambda r: (-len(r.node_ids), _order_key(r.version)))


def _order_key(ver: str) -> tuple[int, Version | str]:
    try:
        return (0, Version("0") if _COMMIT.match(ver) else Version(ver))
    except InvalidVersion:
        return (1, ver)


class VersionPick(BaseModel):
    """What to install for a pack, and why."""

    pack_id: str
    recorded: list[RecordedVersion] = Field(default_factory=list)
    mixed: bool = Field(default=False, description="The workflow's nodes record different versions of this pack.")
    kind: Literal["commit", "registry", "none"] = "none"
    version: str | None = Field(default=None, description="The recorded version chosen.")
    commit: str | None = Field(default=None, description="Commit to check out (verified after checkout).")
    registry_version: str | None = Field(default=None, description="Registry version whose record was found.")
    download_url: str | None = Field(default=None, description="The registry's archive of that version.")
    installed_instead: str | None = Field(default=None, description="Set when something newer than recorded is installed.")
    warnings: list[str] = Field(default_factory=list)
    why: str = ""


def choose_version(
    recorded: list[RecordedVersion], pack_id: str, *, registry: ComfyRegistryClient | None = None,
    tag_commit: Callable[[str], str | None] | None = None,
) -> VersionPick:
    """Pick the version to install from what the nodes record.

    ``registry`` (optional) looks up a registry version's record; ``tag_commit`` (optional,
    e.g. ``lambda v: git.tag_commit(url, v, policy)``) maps a version to a git tag's commit.
    When nothing matches, ``installed_instead`` says a newer version will be installed.
    """
    pick = VersionPick(pack_id=pack_id, recorded=recorded)
    if not recorded:
        pick.why = "the workflow records no version of this pack: the current head is installed"
        pick.installed_instead = "the current version (none recorded)"
        return pick
    if len(recorded) > 1:
        pick.mixed = True
        shown = ", ".join(f"{r.version} ({len(r.node_ids)} node{'s' * (len(r.node_ids) != 1)})" for r in recorded)
        pick.warnings.append(f"the nodes of this workflow record different versions of {pack_id}: {shown}; "
                             f"using {recorded[0].version}, the most used")
    chosen = recorded[0]
    pick.version = chosen.version
    if chosen.kind == "commit":
        pick.kind, pick.commit = "commit", chosen.version
        pick.why = f"the workflow's nodes record commit {chosen.version[:12]}"
        return pick
    if chosen.kind == "other":
        pick.why = f"the recorded version {chosen.version!r} is neither a commit nor a registry version"
        pick.installed_instead = "the current version"
        return pick
    pick.kind = "registry"
    _registry_record(pick, chosen.version, registry)
    if tag_commit is not None:
        try:
            pick.commit = tag_commit(chosen.version)
        except ComfyFixerError as exc:
            pick.warnings.append(f"could not read the repository's tags: {exc}")
    if pick.commit:
        pick.why = f"the workflow's nodes record version {chosen.version}; its git tag is commit {pick.commit[:12]}"
    else:
        pick.why = f"the workflow's nodes record version {chosen.version}"
        if pick.installed_instead is None:
            pick.installed_instead = (f"the current head (newer than the recorded {chosen.version}: the repository has "
                                      "no tag for it) unless installed from the registry archive")
    return pick


def _registry_record(pick: VersionPick, version: str, registry: ComfyRegistryClient | None) -> None:
    if registry is None:
        pick.warnings.append("the Comfy registry was not consulted (offline)")
        return
    if not _SEMVER.match(version):
        pick.warnings.append(f"{version} is not a registry version number")
        return
    try:
        rec = registry.install_version(pick.pack_id, version)
    except NotFound:
        try:
            latest = registry.install_version(pick.pack_id)
        except ComfyFixerError as exc:
            pick.warnings.append(f"the Comfy registry has no {version} of {pick.pack_id} ({exc})")
            return
        pick.registry_version, pick.download_url = latest.version, latest.download_url
        pick.installed_instead = f"{latest.version} (the registry's latest; it has no {version})"
        return
    except ComfyFixerError as exc:
        pick.warnings.append(f"the Comfy registry could not be asked about {pick.pack_id} {version}: {exc}")
        return
    pick.registry_version, pick.download_url = rec.version, rec.download_url
    if rec.deprecated:
        pick.warnings.append(f"the registry marks {pick.pack_id} {rec.version} as deprecated")
