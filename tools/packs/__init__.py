"""Node-pack installs you can trust: hardened git, recorded versions, requirements checked before approval.

* :mod:`.git` — clone at a verified commit with a locked-down git (https only, no redirects,
  no hooks, no user/system config, submodules checked against the host policy first);
* :mod:`.versions` — the pack version the workflow's nodes record, and what to install for it;
* :mod:`.requirements` — ``requirements.txt``/``pyproject.toml`` sanitised, then dry-run in
  ComfyUI's own Python against our index: added/upgraded/downgraded packages, torch/CUDA/numpy
  changes refused by default, conflicts between the packs of one plan;
* :mod:`.vet` — all of the above for a plan's packs in one call (:func:`~.vet.vet_packs`).

How plan building uses them (``agent/planning.py`` / ``agent/plan.py``):

1. Attribution (``tools/workflow/packs.py``) already refuses to let ``aux_id``/``cnr_id`` override
   the catalog: such classes come back UNCERTAIN with both candidates; a ``PackRef`` with
   ``hint_only=True`` is a repository only the workflow names — show its owner prominently and
   put it in the action's ``confirm`` list.
2. Version: ``collect_versions(load_workflow(wf).graph.nodes.values(), PackIdentity(pack_id=…,
   repo_url=…))`` then ``choose_version(recorded, pack_id, registry=…, tag_commit=lambda v:
   tag_commit(url, v, policy))``. Use ``pick.commit`` as the action's commit when set (else
   ``remote_head``); put ``pick.warnings`` and ``pick.installed_instead`` in the plan.
3. Vet: ``vet_packs(VetPacksRequest(packs=[PackToVet(...)], python=ctx.comfyui_python,
   index_url=<configured index>, snapshot_root=cache/"packs", staging_dir=…, allowed_roots=[…],
   accept=<user's accepts>), policy)``. ``result.verdict(pack_id)``: ``refused`` → unresolved with
   ``check.reasons`` and ``check.accept_hint``; ``needs_confirmation`` → ``confirm`` entries.
   Store ``result.python.sha256`` and each ``check.resolved`` (``name==version``) in the action.
4. Apply: ``PackInstallRequest(…, index_url=…, allow_sdist=<confirmed sdist>,
   expected_python_sha256=<stored>, constraints=<stored resolved>)`` → :func:`install_pack`.
"""

from comfyfixer.tools.packs.git import (
    CloneResult,
    PackInstallRequest,
    PackInstallResult,
    PackRefused,
    clone_verified,
    head_commit,
    install_pack,
    remote_head,
    snapshot_pack,
    tag_commit,
)

__all__ = [
    "CloneResult",
    "PackInstallRequest",
    "PackInstallResult",
    "PackRefused",
    "clone_verified",
    "head_commit",
    "install_pack",
    "remote_head",
    "snapshot_pack",
    "tag_commit",
]
