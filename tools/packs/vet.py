"""Everything a plan needs to know about its packs before approval, in one call.

For each pack (already pinned to a commit): a read-only snapshot at that commit (hardened git,
submodule URLs checked), its parsed requirements, and a dry run of them in ComfyUI's Python —
each pack alone, then all of the plan's packs together so conflicts between packs show up
before anything is installed. A pack git refuses (a disallowed submodule…) is reported, not
raised, so one bad pack does not hide what the others would do.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from comfyfixer.tools.download.hosts import HostPolicy
from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.packs.git import PackRefused, Runner, snapshot_pack
from comfyfixer.tools.packs.requirements import (
    ParsedRequirements,
    PythonIdentity,
    RequirementsCheck,
    check_requirements,
    parse_requirements,
    python_identity,
)

log = logging.getLogger(__name__)


class PackToVet(BaseModel):
    """One pack of a plan, pinned."""

    pack_id: str = Field(description="The plan's pack id.")
    repo_url: str = Field(description="The repository the catalog (or the user) chose.")
    commit: str = Field(description="The full commit id the plan will install.")


class VetPacksRequest(BaseModel):
    """Arguments of :func:`vet_packs`."""

    packs: list[PackToVet] = Field(description="The plan's packs.")
    python: Path | None = Field(default=None, description="ComfyUI's Python; None = requirements are not dry-run.")
    index_url: str | None = Field(default=None, description="The package index pip must use.")
    snapshot_root: Path = Field(description="Cache folder for read-only pack snapshots.")
    staging_dir: Path = Field(description="Scratch folder for sanitised requirement files and pip reports.")
    allowed_roots: list[Path] = Field(description="Folders snapshot_root and staging_dir must lie in.")
    accept: list[str] = Field(default_factory=list,
                              description="Guarded packages (torch…) or 'downgrades'/'sdist' the user accepted.")
    allow_sdist: bool = Field(default=False, description="Let pip build sdists during the check (runs their code).")
    timeout: float = Field(default=300.0, description="Seconds per git or pip command.")


class PackVetting(BaseModel):
    """What was found for one pack."""

    pack_id: str = Field(description="The plan's pack id.")
    commit: str = Field(description="The commit vetted.")
    snapshot: Path | None = Field(default=None, description="Where the read-only snapshot is.")
    refused: str | None = Field(default=None, description="Why git refused the pack (then nothing else was checked).")
    error: str | None = Field(default=None, description="A failure that is not a refusal (network, missing git).")
    requirements: ParsedRequirements | None = Field(default=None, description="The pack's requirements, parsed.")
    check: RequirementsCheck | None = Field(default=None, description="The dry run of this pack alone.")


class VetPacksResult(BaseModel):
    """All packs of a plan, and their requirements together."""

    packs: list[PackVetting] = Field(default_factory=list, description="One entry per pack, in request order.")
    combined: RequirementsCheck | None = Field(default=None, description="All resolvable packs dry-run together.")
    python: PythonIdentity | None = Field(default=None, description="ComfyUI's Python as checked (store it in the plan).")

    def verdict(self, pack_id: str) -> str:
        """``ok`` | ``needs_confirmation`` | ``refused`` for one pack, counting plan-wide conflicts."""
        entry = next(p for p in self.packs if p.pack_id == pack_id)
        if entry.refused or entry.error:
            return "refused"
        own = entry.check.verdict if entry.check else "needs_confirmation"
        if self.combined is not None and pack_id in self.combined.conflicting_packs:
            return "refused"
        return own


def vet_packs(req: VetPacksRequest, policy: HostPolicy, *, runner: Runner = subprocess.run) -> VetPacksResult:
    """Snapshot, parse and dry-run every pack of a plan; nothing is installed or imported."""
    result = VetPacksResult()
    parsed: dict[str, ParsedRequirements] = {}
    for pack in req.packs:
        entry = PackVetting(pack_id=pack.pack_id, commit=pack.commit)
        result.packs.append(entry)
        try:
            snap = snapshot_pack(pack.repo_url, pack.commit, req.snapshot_root, policy,
                                 allowed_roots=req.allowed_roots, runner=runner, timeout=req.timeout)
        except PackRefused as exc:
            entry.refused = str(exc)
            continue
        except ComfyFixerError as exc:
            entry.error = str(exc)
            continue
        entry.snapshot = snap.path
        entry.requirements = parsed[pack.pack_id] = parse_requirements(snap.path)
    if req.python is None or not parsed:
        return result
    result.python = python_identity(req.python, runner=runner)
    kw = dict(staging_dir=req.staging_dir, allowed_roots=req.allowed_roots, index_url=req.index_url,
              allow_sdist=req.allow_sdist, accept=req.accept, identity=result.python, runner=runner,
              timeout=req.timeout)
    for entry in result.packs:
        if entry.pack_id in parsed:
            entry.check = check_requirements({entry.pack_id: parsed[entry.pack_id]}, req.python, **kw)
    if len(parsed) > 1:
        alone = [e.pack_id for e in result.packs if e.check and e.check.dry_run_ok]
        result.combined = check_requirements(parsed, req.python, resolves_alone=alone, **kw)
    return result
