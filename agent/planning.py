"""Fix planning: from "what is missing" to a saved plan the user approves — one way for the CLI's
``fix`` and the assistant's ``plan_fix``.

1. :func:`gather_inputs` checks readiness and resolves every gap into :class:`PlanInputs`;
2. :func:`make_plan` pins packs to a commit, takes the registry's repository for registry-only
   packs, applies the context's policy (size caps, licences) and builds the :class:`Plan`;
3. :func:`plan_fix` (the capability) does both and saves the plan under the state folder.

Nothing here changes ComfyUI: applying is ``comfyfixer apply`` with the user's approval token.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.agent.plan import (
    DownloadAction,
    DownloadCandidate,
    MisplacedNeed,
    ModelNeed,
    NodeTypeNeed,
    PackCheck,
    PackRef,
    Plan,
    PlanInputs,
    PlanPolicy,
    build_plan,
    free_disk_bytes,
    registry_only,
    save_plan,
    summary_lines,
    to_json_summary,
)
from comfyfixer.tools.context import ToolContext
from comfyfixer.tools.errors import ComfyFixerError, ConfigError
from comfyfixer.tools.toolset import capability

log = logging.getLogger(__name__)

_TOKEN_SETTINGS = {"civitai": ("civitai_token", "COMFYFIXER_CIVITAI_TOKEN (or CIVITAI_API_TOKEN)"),
                   "hf": ("hf_token", "HF_TOKEN")}


class PlanFixInput(BaseModel):
    """Which workflows to plan for; the ComfyUI to fix comes from the user's settings."""

    paths: list[str] = Field(min_length=1, description="Workflow files (JSON or images embedding one) or folders.")
    resolve: bool = Field(default=True, description="Search catalogs, Hugging Face and Civitai for missing models.")
    pin: bool = Field(default=True, description="Ask each pack's git remote for the commit to pin it at and check "
                      "its Python requirements before approval (False: the plan says they were not checked).")
    save: bool = Field(default=True, description="Save the plan file (False: show it only).")


class PlanFixResult(BaseModel):
    """A fix plan, summarised."""

    plan_file: str | None = Field(description="Where the plan was saved; the user approves this file.")
    plan_id: str = Field(description="The plan's content id.")
    actions: list[dict[str, Any]] = Field(description="Downloads, moves and pack installs the plan would do.")
    unresolved: list[dict[str, Any]] = Field(description="Needs the plan could not settle (ask the user).")
    total_download_bytes: int = Field(description="Bytes the plan would download.")
    free_bytes: int | None = Field(default=None, description="Free disk space when the plan was made.")
    warnings: list[str] = Field(default_factory=list, description="Licence, token, disk and size warnings.")
    notes: list[str] = Field(default_factory=list, description="Tokens the user must set before applying.")
    summary: list[str] = Field(default_factory=list, description="The plan as the user reads it, line by line.")
    next_step: str = Field(description="What the user does to approve and apply the plan.")


@capability(command="fix")
def plan_fix(inp: PlanFixInput, ctx: ToolContext) -> PlanFixResult:
    """Build a fix plan that would make workflows runnable on the user's ComfyUI: model downloads
    (with sources, sizes, licences and token needs), moves of files in the wrong folder, and custom
    node pack installs. The plan is saved to a file and NOTHING is changed: tell the user the plan
    file and that they approve it with `comfyfixer approve`. List unresolved items and ambiguous
    choices as UNCERTAIN."""
    inputs = gather_inputs(inp.paths, ctx, resolve=inp.resolve and not ctx.offline)
    plan = make_plan(inputs, ctx, pin=inp.pin)
    path = save_plan(plan, ctx.state_dir) if inp.save else None
    return plan_result(plan, path, ctx)


def plan_result(plan: Plan, path: Path | None, ctx: ToolContext) -> PlanFixResult:
    """The summary of ``plan`` (saved at ``path``, or not saved) that the CLI and the assistant show."""
    doc = to_json_summary(plan, path or Path(""))
    doc["plan_file"] = str(path) if path else None
    if path is None:
        step = "The plan was not saved (dry run)."
    else:
        # Read by the user at the CLI and by the model in the assistant: it names who may approve.
        step = (f"Review the plan, approve it with `comfyfixer approve {path}` and apply it with "
                f"`comfyfixer apply {path} --token …` (only the user can approve it; the assistant cannot).")
    return PlanFixResult(**doc, notes=token_notes(plan, ctx), summary=summary_lines(plan), next_step=step)


def token_notes(plan: Plan, ctx: ToolContext) -> list[str]:
    """Which downloads will fail for want of a token, said before approval."""
    notes = []
    for a in plan.actions:
        if isinstance(a, DownloadAction) and a.token and not ctx.secret(_TOKEN_SETTINGS[a.token][0]):
            gated = " (gated: accept its license on the website too)" if a.gated else ""
            notes.append(f"{a.item} needs a {a.token} token{gated}: set {_TOKEN_SETTINGS[a.token][1]}")
    return notes


def require_comfyui_dir(ctx: ToolContext) -> Path:
    """The ComfyUI folder a plan fixes: commands that write a copy first (``tune --plan``,
    ``schema build --plan``) ask for it before writing anything."""
    if ctx.comfyui_dir is None:
        raise ConfigError("no ComfyUI folder to fix", hint="pass --comfyui DIR or set COMFYFIXER_COMFYUI_DIR")
    return Path(ctx.comfyui_dir)


def gather_inputs(paths: list[str], ctx: ToolContext, *, resolve: bool) -> PlanInputs:
    """Readiness check, then the resolver for every missing model → :class:`PlanInputs`."""
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    comfy = require_comfyui_dir(ctx)
    result = check_workflows(CheckInput(paths=paths), ctx)
    models: dict[tuple[str | None, str], ModelNeed] = {}
    misplaced: list[MisplacedNeed] = []
    node_types: dict[str, NodeTypeNeed] = {}
    for wf in result.workflows:
        for mm in wf.missing_models:
            key = (mm.folder, mm.filename)
            if key in models:
                models[key].node_ids.extend(mm.node_ids)
                continue
            if resolve:
                verdict, cands, reason = _resolve(ctx, mm.filename, mm.folder, mm.url or mm.catalog_url)
            else:
                cands = []
                for src, url in (("workflow", mm.url), ("catalog:manager", mm.catalog_url)):
                    if url and not any(c.url == url for c in cands):
                        cands.append(DownloadCandidate(source=src, url=url, filename=mm.filename.rsplit("/", 1)[-1]))
                verdict = "RESOLVED" if len(cands) == 1 else "UNCERTAIN" if cands else "NOT_FOUND"
                reason = "" if cands else "no URL in the workflow or catalogs (online search was off)"
            models[key] = ModelNeed(filename=mm.filename, folder=mm.folder, node_ids=list(mm.node_ids),
                                    verdict=verdict, candidates=cands, reason=reason)
        for mis in wf.misplaced_models:
            if mis.expected_folder and mis.move_from:
                try:
                    rel = Path(mis.move_from).resolve().relative_to(comfy.resolve()).as_posix()
                except ValueError:
                    continue  # outside the ComfyUI folder: we never move files we do not own
                misplaced.append(MisplacedNeed(filename=mis.filename, found_in=rel, expected_folder=mis.expected_folder))
        for nt in wf.missing_node_types:
            if nt.class_type not in node_types:
                node_types[nt.class_type] = NodeTypeNeed(
                    class_type=nt.class_type, status=nt.status, reason=nt.reason or nt.fix,
                    packs=[PackRef(id=p.id, reference=p.reference, hint_only=p.hint_only) for p in nt.packs])
    manager = next((p for p in (comfy / "custom_nodes" / d / "cm-cli.py" for d in ("ComfyUI-Manager", "comfyui-manager"))
                    if p.is_file()), None)
    return PlanInputs(
        comfyui_dir=comfy, workflows=[w.path for w in result.workflows], models=list(models.values()),
        misplaced=misplaced, node_types=list(node_types.values()),
        comfyui_python=str(ctx.comfyui_python) if ctx.comfyui_python else None,
        manager_cli=str(manager) if manager else None,
    )


def _resolve(ctx: ToolContext, filename: str, folder: str | None, url: str | None) -> tuple[str, list[DownloadCandidate], str]:
    """One missing model through the resolver: (verdict, candidates, reason)."""
    from comfyfixer.tools.resolver.models import ModelQuery
    from comfyfixer.tools.resolver.tools import resolve_model

    try:
        verdict = resolve_model(ModelQuery(filename=filename, folder=folder, url_hint=url), ctx)
    except ComfyFixerError as exc:
        return "NOT_FOUND", [], f"resolver failed: {exc}"
    cands = [c.model_copy(update={"folder": c.folder or verdict.folder, "note": "; ".join(c.reasons[:3])})
             for c in verdict.candidates]
    reason = "; ".join(e.said for e in verdict.evidence[-2:]) if str(verdict.status) != "RESOLVED" else ""
    return str(verdict.status), cands, reason


def make_plan(inputs: PlanInputs, ctx: ToolContext, *, pin: bool = True) -> Plan:
    """Pin packs and check their requirements (online), fill ComfyUI's Python, apply the context's
    policy and build the plan. Offline or with ``pin=False`` every pack says what was not checked."""
    if pin and not ctx.offline:
        inputs = pin_packs(inputs, ctx)
        vet_plan_packs(inputs, ctx)
    else:
        why = "offline" if ctx.offline else "--no-pin: git remotes were not asked"
        for pack in _plan_packs(inputs):
            pack.check = PackCheck(version_source="given" if pack.commit else "unpinned", not_checked=why)
    if inputs.comfyui_python is None and ctx.comfyui_python is not None:
        inputs.comfyui_python = str(ctx.comfyui_python)
    policy = PlanPolicy(max_download_bytes=ctx.max_download_bytes, max_total_bytes=ctx.max_total_bytes,
                        license_allowlist=list(ctx.license_allowlist))
    return build_plan(inputs, policy, free_bytes=free_disk_bytes(inputs.comfyui_dir))


def _repositories_from_registry(inputs: PlanInputs, ctx: ToolContext) -> None:
    """Packs known only by registry id get their git repository from the Comfy registry."""
    wanted = [p for nt in inputs.node_types if nt.status == "RESOLVED" for p in nt.packs[:1]
              if registry_only(p.reference)]
    registry = ctx.registry_client() if wanted else None
    if registry is None:
        return
    found: dict[str, str | None] = {}
    for pack in wanted:
        if pack.id not in found:
            try:
                repo = registry.node(pack.id).repository
                found[pack.id] = repo if repo and repo.startswith("https://") else None
            except ComfyFixerError as exc:
                log.warning("the Comfy registry could not name the repository of %s: %s", pack.id, exc)
                found[pack.id] = None
        if found[pack.id]:
            pack.reference = found[pack.id]


def _plan_packs(inputs: PlanInputs) -> list[PackRef]:
    """The pack each RESOLVED node type would install (registry-only pages excluded), one object per pack.

    Several classes of one pack name it separately; they are made to share the first ``PackRef`` so
    what is found out about it (commit, checks) is found once and said once."""
    first: dict[tuple[str, str], PackRef] = {}
    for nt in inputs.node_types:
        if nt.status != "RESOLVED" or not nt.packs or registry_only(nt.packs[0].reference):
            continue
        key = (nt.packs[0].id, nt.packs[0].reference)
        nt.packs[0] = first.setdefault(key, nt.packs[0])
    return list(first.values())


def _workflow_nodes(workflows: list[str]) -> list[Any]:
    """Every node of the plan's workflows (for the versions they record); unreadable files are skipped."""
    from comfyfixer.tools.workflow.loader import load_workflow

    nodes: list[Any] = []
    for wf in workflows:
        try:
            nodes += list(load_workflow(Path(wf)).graph.nodes.values())
        except (ComfyFixerError, OSError, ValueError) as exc:
            log.warning("cannot read the pack versions %s records: %s", wf, exc)
    return nodes


def pin_packs(inputs: PlanInputs, ctx: ToolContext) -> PlanInputs:
    """Pin every pack without a commit: to the version the workflow's nodes record (``properties.ver``:
    a commit, or the git tag of a registry version), else to the remote's current head.

    Each pack's :class:`PackCheck` says where its commit came from and what is installed instead of a
    recorded version (newer head, several versions recorded by one workflow)."""
    from comfyfixer.tools.packs import remote_head, tag_commit
    from comfyfixer.tools.packs.versions import PackIdentity, choose_version, collect_versions

    policy = ctx.host_policy()
    _repositories_from_registry(inputs, ctx)
    packs = _plan_packs(inputs)
    nodes = _workflow_nodes(inputs.workflows) if packs else []
    registry = None
    for pack in packs:
        pack.check = None  # found out here, never taken from the inputs
        if pack.commit:
            pack.check = PackCheck(version_source="given")
            continue
        recorded = collect_versions(nodes, PackIdentity(pack_id=pack.id, repo_url=pack.reference))
        if registry is None and any(r.kind == "registry" for r in recorded[:1]):
            registry = ctx.registry_client()
        url = pack.reference
        pick = choose_version(recorded, pack.id, registry=registry,
                              tag_commit=lambda v, url=url: tag_commit(url, v, policy, timeout=ctx.http_timeout))
        check = PackCheck(recorded_version=pick.version, installed_instead=pick.installed_instead,
                          warnings=list(pick.warnings))
        if pick.commit:
            pack.commit = pick.commit
            check.version_source = "recorded_commit" if pick.kind == "commit" else "registry_tag"
            check.installed_instead = None  # the recorded version itself (its tag) is installed from git
        else:
            try:
                pack.commit = remote_head(url, policy, timeout=ctx.http_timeout)
                check.version_source = "remote_head"
            except ComfyFixerError as exc:
                log.warning("cannot pin %s: %s", pack.id, exc)
                check.warnings.append(f"could not ask {url} for its head commit: {exc}")
        pack.check = check
    return inputs


def vet_plan_packs(inputs: PlanInputs, ctx: ToolContext) -> None:
    """Check every pinned pack before approval and record the findings in its :class:`PackCheck`.

    A read-only snapshot at the pinned commit (hardened git: a disallowed submodule or a redirect is
    a refusal), its requirements parsed (index options, direct and VCS URLs are refused), then a dry
    run in ComfyUI's own Python against ``pip_index_url`` — each pack alone and all together, so a
    conflict between two packs shows up now. Without ``comfyui_python`` (or when it cannot be run)
    the refusals are still found, and the rest is marked as not checked, never skipped silently.
    """
    from comfyfixer.tools.packs.vet import PackToVet, VetPacksRequest, vet_packs

    packs = _plan_packs(inputs)
    for pack in packs:
        pack.check = pack.check or PackCheck(version_source="given" if pack.commit else "unpinned")
    vettable = [p for p in packs if p.commit and len(p.commit) == 40]
    for pack in packs:
        if pack not in vettable and pack.check is not None:
            pack.check.not_checked = "no full commit id is pinned, so there is nothing exact to check"
    if not vettable:
        return
    root = Path(ctx.cache_dir) / "packs"
    req = VetPacksRequest(packs=[PackToVet(pack_id=p.id, repo_url=p.reference, commit=str(p.commit)) for p in vettable],
                          python=ctx.comfyui_python, index_url=ctx.pip_index_url, snapshot_root=root,
                          staging_dir=root / ".checks", allowed_roots=[Path(ctx.cache_dir)])
    policy = ctx.host_policy()
    python_problem = None if ctx.comfyui_python else "comfyui_python is not set (COMFYFIXER_COMFYUI_PYTHON)"
    try:
        result = vet_packs(req, policy)
    except ComfyFixerError as exc:  # ComfyUI's Python could not be asked: still look at the packs themselves
        python_problem = f"ComfyUI's Python could not be used: {exc}"
        result = vet_packs(req.model_copy(update={"python": None}), policy)
    by_id = {p.id: p for p in vettable}
    for entry in result.packs:
        check = by_id[entry.pack_id].check
        assert check is not None
        if entry.refused:
            check.vetting, check.refusal = "refused", f"git refused it: {entry.refused}"
            continue
        if entry.error:
            check.not_checked = f"the pack could not be fetched for checking: {entry.error}"
            continue
        parsed = entry.requirements
        if parsed is not None:
            check.requirements = list(parsed.requirements)
            if parsed.refused:
                check.vetting = "refused"
                check.refusal = "its requirements ask pip for what is never done on your behalf: " + "; ".join(
                    f"{i.file}:{i.line} `{i.text}` ({i.kind}: {i.reason})" for i in parsed.refused)
                check.accept_hint = ("refused lines are never run for you: install the pack and those requirements "
                                     "yourself if you trust them")
                continue
        if entry.check is None:
            check.not_checked = python_problem or "the requirements could not be dry-run"
            continue
        _fill_check(check, entry.check, result.verdict(entry.pack_id))
        conflict = result.combined if result.combined and entry.pack_id in result.combined.conflicting_packs else None
        if conflict is not None or entry.check.conflicts:
            lines = (conflict or entry.check).conflicts
            others = [p for p in (conflict.conflicting_packs if conflict else []) if p != entry.pack_id]
            check.vetting = "refused"
            check.refusal = ("its requirements conflict" + (f" with {', '.join(others)} in this plan" if others else "")
                             + ": " + "; ".join(lines))
            check.accept_hint = "drop one of the conflicting packs, or install them in separate ComfyUI environments"


def _fill_check(check: PackCheck, found: Any, verdict: str) -> None:
    """Copy one pack's dry-run result (``RequirementsCheck``) into its plan record."""
    check.vetting = verdict
    check.reasons = list(found.reasons)
    check.accept_hint = found.accept_hint
    check.changes = list(found.changes)
    check.guarded = sorted({c.name for c in found.guarded})
    check.needs_sdist = list(found.needs_sdist)
    check.resolved = list(found.resolved)
    check.python, check.python_sha256 = found.python.path, found.python.sha256
    check.index_url = found.index_url
    check.not_checked = None


def recheck(plan: Plan, ctx: ToolContext) -> dict[str, Any]:
    """After applying: which of the plan's workflows run now, and what the others still miss."""
    from comfyfixer.tools.readiness import CheckInput, check_workflows

    existing = [w for w in plan.workflows if Path(w).exists()]
    if not existing:
        return {"skipped": "workflow files not found"}
    try:
        result = check_workflows(CheckInput(paths=existing),
                                 ctx.model_copy(update={"comfyui_dir": Path(plan.comfyui_dir), "use_cache": False}))
    except ComfyFixerError as exc:
        return {"error": str(exc)}
    return {
        "runnable": [w.path for w in result.workflows if w.status == "runnable"],
        "not_runnable": [{"path": w.path, "status": w.status,
                          "missing_models": [m.filename for m in w.missing_models],
                          "missing_node_types": [n.class_type for n in w.missing_node_types]}
                         for w in result.workflows if w.status != "runnable"],
    }
