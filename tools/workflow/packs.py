"""Which custom node pack provides a class: workflow hints, then ComfyUI-Manager's node map.

Order, surest first:

1. core: the schema source knows the class as core, or ComfyUI's own entry in the Manager's
   map lists it (a newer core class → ``CORE_UPDATE``), or nodes carry ``cnr_id == "comfy-core"``;
   core is checked first because some packs re-register core names;
2. the Manager's ``extension-node-map.json`` decides *which repository*: a pack's
   ``preemptions`` win, then exact listings, then ``nodename_pattern`` regexes;
3. the nodes' own ``properties.cnr_id`` (registry id) or ``aux_id`` (``owner/repo``) are only
   hints. A hint naming one of the catalog's claimants picks it (RESOLVED); a hint naming a
   different repository than every claimant is UNCERTAIN with both and why — a workflow must
   not be able to steer an install to ``evil-user/ComfyUI-Impact-Pack`` for ``FaceDetailer``.
   A hint the catalog cannot contradict (no claimant) is used, and a repository known only
   from ``aux_id`` is marked ``hint_only`` so a plan can show its owner prominently.

Without a usable hint: one claimant → RESOLVED; several → UNCERTAIN, ranked by how many other
classes of this workflow each pack provides; none → NOT_FOUND.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from comfyfixer.tools.catalogs.manager import ManagerCatalog, PackInfo, normalize_repo_url
from comfyfixer.tools.schema.loader import SchemaSet
from comfyfixer.tools.workflow.graph import FRONTEND_ONLY_PACK_CLASSES, GraphNode
from comfyfixer.tools.workflow.models import CustomNodeFinding, PackRef

CORE_CNR_ID = "comfy-core"
REGISTRY_URL = "https://registry.comfy.org/nodes/"


def _ref(info: PackInfo, why: str) -> PackRef:
    return PackRef(id=info.id, reference=info.reference, title=info.title, why=why)


def is_core_class(class_type: str, schemas: SchemaSet) -> bool:
    schema = schemas.get(class_type)
    return schema is not None and not schema.is_custom


def attribute_packs(
    nodes: Iterable[GraphNode], schemas: SchemaSet, catalog: ManagerCatalog | None
) -> list[CustomNodeFinding]:
    """One finding per non-core, non-virtual class used by ``nodes``."""
    by_class: dict[str, list[GraphNode]] = {}
    for node in nodes:
        if node.virtual or node.class_type.startswith("workflow>"):
            continue
        by_class.setdefault(node.class_type, []).append(node)

    findings: list[CustomNodeFinding] = []
    pending: dict[str, list[PackInfo]] = {}
    for cls, uses in sorted(by_class.items()):
        active = any(n.active for n in uses)
        if is_core_class(cls, schemas):
            continue
        cnr_ids = {str(n.properties.get("cnr_id")) for n in uses if n.properties.get("cnr_id")}
        aux_ids = {str(n.properties.get("aux_id")) for n in uses if n.properties.get("aux_id")}
        vers = sorted({str(n.properties.get("ver")) for n in uses if n.properties.get("ver")})
        core_elsewhere = catalog is not None and cls in catalog.core_classes
        if CORE_CNR_ID in cnr_ids or core_elsewhere:
            where = "nodes carry cnr_id 'comfy-core'" if CORE_CNR_ID in cnr_ids else "ComfyUI's own node list has it"
            findings.append(
                CustomNodeFinding(
                    class_type=cls, status="CORE_UPDATE", active=active,
                    reason=f"core class missing from {schemas.source} ({where}): update ComfyUI",
                    min_comfyui_version=vers[-1] if vers and CORE_CNR_ID in cnr_ids else None,
                )
            )
            continue
        hinted = _from_hints(cnr_ids - {CORE_CNR_ID}, aux_ids, catalog)
        frontend_repo = FRONTEND_ONLY_PACK_CLASSES.get(cls)
        if frontend_repo is not None:
            info = catalog.pack(frontend_repo) if catalog else PackInfo(id=frontend_repo.rsplit("/", 1)[-1], reference=frontend_repo)
            own = _ref(info, "frontend-only node of this pack's web extension")
            verdict = _check_hints(cls, hinted, [info])
            if verdict is not None and verdict.status == "UNCERTAIN":
                verdict.active, verdict.frontend_only = active, True
                findings.append(verdict)
                continue
            packs = verdict.packs if verdict is not None else [own]
            findings.append(CustomNodeFinding(class_type=cls, status="RESOLVED", packs=packs, active=active,
                                              frontend_only=True,
                                              reason="frontend-only node: no backend class, but needs the pack's web extension"))
            continue
        claim = catalog.claimants(cls) if catalog is not None else []
        verdict = _check_hints(cls, hinted, claim)
        if verdict is not None:
            verdict.active = active
            findings.append(verdict)
            continue
        if len(claim) == 1:
            how = "preempted by the pack" if cls in catalog.preemptions else "listed in extension-node-map"  # type: ignore[union-attr]
            if cls not in catalog.node_claims and cls not in catalog.preemptions:  # type: ignore[union-attr]
                how = "matches the pack's nodename_pattern"
            findings.append(CustomNodeFinding(class_type=cls, status="RESOLVED", packs=[_ref(claim[0], how)],
                                              active=active, reason=how))
        elif claim:
            pending[cls] = claim
            findings.append(CustomNodeFinding(class_type=cls, status="UNCERTAIN", active=active))
        else:
            why = "no pack in ComfyUI-Manager's node map claims it" if catalog else "no catalog loaded"
            findings.append(CustomNodeFinding(class_type=cls, status="NOT_FOUND", active=active, reason=why))

    _rank_uncertain(findings, pending)
    return findings


def _owner_repo(reference: str) -> str:
    """``owner/repo`` of a repository URL, for messages (the whole URL when it has no such path)."""
    if reference.startswith(REGISTRY_URL):
        return f"registry id '{reference.removeprefix(REGISTRY_URL)}'"
    parts = normalize_repo_url(reference).split("/")
    return "/".join(reference.rstrip("/").removesuffix(".git").split("/")[-2:]) if len(parts) >= 5 else reference


def _check_hints(cls: str, hinted: list[PackRef], claim: list[PackInfo]) -> CustomNodeFinding | None:
    """What the workflow's hints may decide, given the catalog's claimants (None: the hints say nothing).

    * hints and no claimant: the hints stand (RESOLVED), hint-only repositories stay marked;
    * a hint names a claimant: that claimant (RESOLVED; the catalog's record, not the hint's URL);
    * every hint names another repository: UNCERTAIN, the catalog's claimants first, then the
      hinted repositories, with a reason naming both sides.
    """
    if not hinted:
        return None
    if not claim:
        return CustomNodeFinding(class_type=cls, status="RESOLVED", packs=hinted, reason=hinted[0].why or "")
    by_ref = {normalize_repo_url(c.reference): c for c in claim}
    agree = [h for h in hinted if normalize_repo_url(h.reference) in by_ref]
    if agree:
        packs = [_ref(by_ref[normalize_repo_url(h.reference)], f"{h.why}; the catalog lists this pack for the class")
                 for h in agree]
        return CustomNodeFinding(class_type=cls, status="RESOLVED", packs=packs, reason=packs[0].why or "")
    named = ", ".join(_owner_repo(h.reference) for h in hinted)
    listed = ", ".join(_owner_repo(c.reference) for c in claim)
    why = f"the workflow names {named}, the catalog lists {listed} for this class"
    packs = [_ref(c, f"the catalog lists this pack for {cls}") for c in claim]
    packs += [h.model_copy(update={"why": f"{h.why}; not the catalog's pack for {cls}"}) for h in hinted]
    return CustomNodeFinding(class_type=cls, status="UNCERTAIN", packs=packs, reason=why)


def _from_hints(cnr_ids: set[str], aux_ids: set[str], catalog: ManagerCatalog | None) -> list[PackRef]:
    refs: list[PackRef] = []
    for cid in sorted(cnr_ids):
        info = catalog.pack_by_id(cid) if catalog else None
        if info is not None:
            refs.append(_ref(info, f"node properties.cnr_id '{cid}'"))
        else:
            refs.append(PackRef(id=cid, reference=REGISTRY_URL + cid, why=f"node properties.cnr_id '{cid}' (registry)"))
    if refs:
        return refs
    for aux in sorted(aux_ids):
        info = catalog.pack_by_id(aux) if catalog else None
        if info is not None:
            refs.append(_ref(info, f"node properties.aux_id '{aux}'"))
        elif "/" in aux:
            refs.append(PackRef(id=aux.rsplit("/", 1)[-1], reference=f"https://github.com/{aux}", hint_only=True,
                                why=f"node properties.aux_id '{aux}' (repository named only by the workflow; "
                                    f"owner {aux.split('/', 1)[0]})"))
    return refs


def _rank_uncertain(findings: list[CustomNodeFinding], pending: dict[str, list[PackInfo]]) -> None:
    """Rank several claimants by how many of this workflow's other classes each pack provides."""
    provided: Counter[str] = Counter()
    for f in findings:
        for p in f.packs:
            provided[normalize_repo_url(p.reference)] += 1
    for f in findings:
        claims = pending.get(f.class_type, [])
        if not claims:
            continue
        scored = sorted(claims, key=lambda c: (-provided[normalize_repo_url(c.reference)], c.reference.lower()))
        f.packs = [
            _ref(c, f"claims {f.class_type}; provides {provided[normalize_repo_url(c.reference)]} other class(es) here")
            for c in scored
        ]
        f.reason = f"{len(claims)} packs claim this class; ranked by co-occurrence in this workflow"
