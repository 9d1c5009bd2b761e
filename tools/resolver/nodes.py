"""Node-pack resolver: an unknown ``class_type`` → the custom node pack that provides it.

Works from ComfyUI-Manager's node map (offline once the catalogs are cached) plus, for a registry id
the workflow itself names, one lookup in the Comfy registry. Never installs or imports anything.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

from comfyfixer.tools.catalogs.manager import ManagerCatalog, PackInfo
from comfyfixer.tools.comfy_registry import ComfyRegistryClient
from comfyfixer.tools.errors import ComfyFixerError
from comfyfixer.tools.resolver.models import DownloadCandidate, Evidence, NodeQuery, ResolveStatus, Verdict

REGISTRY_URL = "https://registry.comfy.org/nodes/"


class NodeResolver:
    """Uses the Manager's node map (preemptions, listings, name patterns) and registry ids from the workflow.

    Without a catalog every query is NOT_FOUND with a hint to refresh the catalogs. ``registry`` is
    optional; without it a ``cnr_id`` the catalog does not know stays UNCERTAIN.
    """

    def __init__(self, catalog: ManagerCatalog | None, registry: ComfyRegistryClient | None = None) -> None:
        self.catalog = catalog
        self.registry = registry

    def resolve(self, q: NodeQuery) -> Verdict:
        """A verdict for one node class, first rule that applies:

        1. a core ComfyUI class → RESOLVED with a "core" candidate (update ComfyUI rather than install);
        2. the workflow's ``cnr_id``/``aux_id`` names a pack the catalog knows, and no other pack contradicts
           it → RESOLVED on that pack;
        3. exactly one pack claims the class → RESOLVED;
        4. several packs claim it → UNCERTAIN with each (at most eight);
        5. a ``cnr_id`` the Comfy registry confirms with an https repository → RESOLVED;
        6. otherwise UNCERTAIN with the registry id and packs of very similar class names (ratio ≥ 85), or
           NOT_FOUND when there are none.

        A registry failure is noted in ``searched`` and does not raise.
        """
        searched: list[str] = []
        evidence: list[Evidence] = []
        cands: list[DownloadCandidate] = []
        cat = self.catalog
        if cat is None:
            return Verdict(query=q.class_type, kind="node", status=ResolveStatus.NOT_FOUND,
                           searched=["no node catalog available (run `comfyfixer catalogs refresh`)"])
        searched.append(f"{cat.source.describe()}: class {q.class_type}")
        if q.class_type in cat.core_classes:
            evidence.append(Evidence(source="catalog:manager", said=f"{q.class_type} is a core ComfyUI node"))
            return Verdict(query=q.class_type, kind="node", status=ResolveStatus.RESOLVED, searched=searched, evidence=evidence,
                           candidates=[DownloadCandidate(source="core", url="https://github.com/comfyanonymous/ComfyUI",
                                                 filename="ComfyUI", score=1.0, exact=True,
                                                 reasons=["+ core node: update ComfyUI rather than installing a pack"])])
        hinted: PackInfo | None = None
        for pid in (q.cnr_id, q.aux_id):
            if pid:
                searched.append(f"pack id {pid}")
                hinted = hinted or cat.pack_by_id(pid)
        claimants = cat.claimants(q.class_type)
        for pack in claimants:
            evidence.append(Evidence(source="catalog:manager", said=f"{pack.id} ({pack.reference}) provides {q.class_type}"))
        if hinted is not None and (not claimants or any(p.reference == hinted.reference for p in claimants)):
            cands.append(self._cand(hinted, q, 1.0, "+ the workflow names this pack (cnr_id/aux_id)"))
            return Verdict(query=q.class_type, kind="node", status=ResolveStatus.RESOLVED, candidates=cands,
                           searched=searched, evidence=evidence)
        if len(claimants) == 1:
            cands.append(self._cand(claimants[0], q, 1.0, "+ the only pack that registers this class"))
            return Verdict(query=q.class_type, kind="node", status=ResolveStatus.RESOLVED, candidates=cands,
                           searched=searched, evidence=evidence)
        if claimants:
            for p in claimants:
                cands.append(self._cand(p, q, 0.8, f"- {len(claimants)} packs register this class"))
            return Verdict(query=q.class_type, kind="node", status=ResolveStatus.UNCERTAIN, candidates=cands[:8],
                           searched=searched, evidence=evidence)
        if q.cnr_id:
            found = self._from_registry(q, searched, evidence)
            if found is not None:
                return Verdict(query=q.class_type, kind="node", status=ResolveStatus.RESOLVED, candidates=[found],
                               searched=searched, evidence=evidence)
            cands.append(DownloadCandidate(source="registry", url=REGISTRY_URL + q.cnr_id, filename=q.cnr_id, score=0.7,
                                   reasons=["+ the workflow names this registry id", "- no catalog lists the class"]))
        names = list(cat.node_claims)
        for name, score, _ in process.extract(q.class_type, names, scorer=fuzz.ratio, limit=3):
            # Only near-identical names (typos, renamed versions) are worth offering.
            if score < 85:
                continue
            for p in cat.claimants(name)[:2]:
                cands.append(self._cand(p, q, round(score / 100 * 0.9, 3), f"- provides the similar class {name}, not {q.class_type}"))
        searched.append("similar class names in the node map")
        status = ResolveStatus.UNCERTAIN if cands else ResolveStatus.NOT_FOUND
        return Verdict(query=q.class_type, kind="node", status=status, candidates=cands, searched=searched, evidence=evidence)

    def _from_registry(self, q: NodeQuery, searched: list[str], evidence: list[Evidence]) -> DownloadCandidate | None:
        """The workflow's own registry id, confirmed by the Comfy registry, names the pack exactly."""
        if self.registry is None or not q.cnr_id:
            return None
        searched.append(f"Comfy registry: {q.cnr_id}")
        try:
            node = self.registry.node(q.cnr_id)
        except ComfyFixerError as exc:
            searched.append(f"Comfy registry failed: {exc}")
            return None
        if not node.repository or not node.repository.startswith("https://"):
            return None
        evidence.append(Evidence(source="registry", said=f"{q.cnr_id} is published from {node.repository}"))
        version = node.latest_version.version if node.latest_version else None
        return DownloadCandidate(source="registry", url=node.repository, filename=q.cnr_id, score=1.0, exact=True,
                         repo=node.repository, license=node.license,
                         reasons=["+ the workflow names this registry id", "+ the Comfy registry names its repository"]
                         + ([f"+ latest version {version}"] if version else []))

    @staticmethod
    def _cand(p: PackInfo, q: NodeQuery, score: float, reason: str) -> DownloadCandidate:
        return DownloadCandidate(source="catalog:manager", url=p.reference, filename=p.id, score=score, exact=score >= 1.0,
                         repo=p.reference, reasons=[reason] + ([f"+ {p.title}"] if p.title else []))
