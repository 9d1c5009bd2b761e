"""Compare one workflow's inspection with the local inventory: runnable, or what is missing and how to fix it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from comfyfixer.tools.inventory import LocalInventory, ModelFile, canonical_folder, normalize_model_name
from comfyfixer.tools.model_folders import placement_dir
from comfyfixer.tools.readiness.models import (
    MisplacedModel,
    MissingModel,
    MissingNodeType,
    PackSuggestion,
    PresentModel,
    WorkflowReadiness,
)

if TYPE_CHECKING:  # the inspector's models are loaded only when a workflow is inspected (a cache miss)
    from comfyfixer.tools.workflow.models import InspectionResult, ModelRef

# Frontend-only classes never reach the server (the inspector lists them apart; kept here as a guard).
VIRTUAL_CLASSES = frozenset({"Reroute", "Note", "MarkdownNote", "PrimitiveNode", "Primitive"})


def _version_tuple(v: str | None) -> tuple[int, ...] | None:
    if not v:
        return None
    nums = re.findall(r"\d+", v)
    return tuple(int(n) for n in nums[:3]) if nums else None


def version_at_least(have: str | None, want: str | None) -> bool:
    """``have >= want`` for dotted versions; False when either is unknown."""
    a, b = _version_tuple(have), _version_tuple(want)
    return a is not None and b is not None and a >= b


class Assessor:
    """Holds what every workflow is compared with: installed classes, core classes, models."""

    def __init__(
        self,
        inventory: LocalInventory,
        core_classes: Iterable[str],
        *,
        schema_version: str | None = None,
        catalog_url: Callable[[str], str | None] | None = None,
        hasher: Callable[[ModelFile], str | None] | None = None,
    ) -> None:
        self.inv = inventory
        self.core = frozenset(core_classes)
        self.installed = frozenset(inventory.installed_classes())
        self.schema_version = schema_version
        self.catalog_url = catalog_url
        self.hasher = hasher
        self.disabled: dict[str, str] = {}
        self._targets: dict[str, str | None] = {}
        for pack in inventory.nodes.packs:
            if not pack.enabled:
                for cls in pack.classes:
                    self.disabled.setdefault(cls, pack.name)

    # --- nodes ----------------------------------------------------------------------------------
    def _has_class(self, cls: str) -> bool:
        return cls in self.core or cls in self.installed

    def missing_nodes(self, insp: InspectionResult, warnings: list[str]) -> list[MissingNodeType]:
        findings = {f.class_type: f for f in insp.custom_nodes}
        out: list[MissingNodeType] = []
        for nt in insp.node_types:
            cls = nt.class_type
            if cls in VIRTUAL_CLASSES or self._has_class(cls):
                continue
            f = findings.get(cls)
            packs = [PackSuggestion(id=p.id, reference=p.reference, title=p.title, hint_only=p.hint_only) for p in (f.packs if f else [])]
            status = f.status if f else "NOT_FOUND"
            reason = f.reason if f else ""
            if status == "CORE_UPDATE":
                local = self.inv.comfyui_version
                need = f.min_comfyui_version if f else None
                # The snapshot we compared with may be older than this install: then a newer core class may
                # well be here. Trust the install's version when it is at least what the workflow needs.
                if (
                    self.inv.object_info is None
                    and local
                    and self.schema_version
                    and version_at_least(local, self.schema_version)
                    and local != self.schema_version
                    and (need is None or version_at_least(local, need))
                ):
                    warnings.append(f"{cls}: core in newer ComfyUI; assumed present in this ComfyUI {local}")
                    continue
                fix = f"update ComfyUI (this one is {local or 'of unknown version'}" + (
                    f"; the workflow was saved with {need})" if need else ")"
                )
            elif cls in self.disabled:
                status, fix = "DISABLED", f"enable the pack: rename custom_nodes/{self.disabled[cls]}.disabled to {self.disabled[cls]}"
            elif packs and status == "RESOLVED":
                fix = f"install {packs[0].id} ({packs[0].reference})"
            elif packs:
                fix = "install one of: " + ", ".join(f"{p.id} ({p.reference})" for p in packs[:3])
            else:
                fix = "no known pack provides it: search the Comfy registry or the workflow's source"
            active = getattr(nt, "active_count", None)
            out.append(
                MissingNodeType(
                    class_type=cls, status=status, packs=packs, node_count=int(nt.count), reason=reason, fix=fix
                )
            )
            if active == 0 and nt.count:
                warnings.append(f"{cls} is only used by muted or bypassed nodes")
        return sorted(out, key=lambda m: m.class_type)

    # --- models -----------------------------------------------------------------------------------
    def target_dir(self, folder: str) -> str | None:
        """Where files for ``folder`` go: its first existing search dir, else the one named after the key
        (``models/diffusion_models``, not the legacy ``models/unet``: ``model_folders.placement_dir``), else
        the first, else models/<key>."""
        if folder in self._targets:
            return self._targets[folder]
        target: str | None = None
        if self.inv.comfyui_dir is not None:
            dirs = [d for d in self.inv.models.folders.get(folder, []) if not d.startswith(("http://", "https://"))]
            placed = placement_dir(folder)
            named = os.path.join(self.inv.comfyui_dir, *placed.split("/")) if placed else None
            target = next((d for d in dirs if os.path.isdir(d)), None) or (
                named if named is not None and os.path.normpath(named) in {os.path.normpath(d) for d in dirs}
                else dirs[0] if dirs else os.path.join(self.inv.comfyui_dir, "models", folder)
            )
        self._targets[folder] = target
        return target

    def target_path(self, folder: str | None, name: str) -> str | None:
        """Where a file named ``name`` for ``folder`` should be so that its loader finds it."""
        base = self.target_dir(folder) if folder is not None else None
        return os.path.join(base, *name.split("/")) if base else None

    def models(
        self, insp: InspectionResult
    ) -> tuple[list[MissingModel], list[MisplacedModel], list[PresentModel], list[str]]:
        groups: dict[tuple[str | None, str], list[ModelRef]] = {}
        for ref in insp.models:
            if not getattr(ref, "active", True):
                continue
            key = (canonical_folder(ref.folder), normalize_model_name(ref.filename))
            groups.setdefault(key, []).append(ref)
        missing: list[MissingModel] = []
        misplaced: list[MisplacedModel] = []
        present: list[PresentModel] = []
        warnings: list[str] = []
        m = self.inv.models
        for (folder, name), refs in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
            node_ids = sorted({r.node_id for r in refs}, key=_natural)
            url = next((r.url for r in refs if r.url), None)
            if m.has(folder, name):
                found = m.get(folder, name) if folder else _first_anywhere(m.files, name)
                sha = None
                if self.hasher is not None and found is not None and found.path:
                    sha = self.hasher(found)
                    want = next((r.hash for r in refs if r.hash and (r.hash_type or "sha256").lower() == "sha256"), None)
                    if sha and want and sha.lower() != want.lower():
                        warnings.append(f"{name}: sha256 differs from the one the workflow records")
                present.append(PresentModel(filename=name, folder=folder, location=found.location if found else name, sha256=sha))
                continue
            others = m.elsewhere(folder, name) if folder is not None else []
            if others:
                best = sorted(others, key=lambda f: (f.name != name, f.location))[0]
                move_to = self.target_path(folder, name)
                fix = f"move {best.location} to {_rel(move_to, self.inv.comfyui_dir) if move_to else f'{folder}/{name}'}"
                if all(getattr(r, "folder_from", "") in ("input-name", "unknown") for r in refs):
                    fix += f" (the loader's folder was guessed from its input name; check the {refs[0].class_type} docs)"
                misplaced.append(
                    MisplacedModel(
                        filename=name, found_in=best.location, expected_folder=folder, node_ids=node_ids,
                        move_from=best.path or None, move_to=move_to, fix=fix,
                    )
                )
                continue
            catalog = self.catalog_url(name) if self.catalog_url and not url else None
            target = self.target_path(folder, name)
            where = _rel(target, self.inv.comfyui_dir) if target else (f"the {folder} folder" if folder else "its folder")
            source = url or catalog
            fix = f"download {source} to {where}" if source else f"find {name} and put it in {where}"
            missing.append(
                MissingModel(
                    filename=name, folder=folder, node_ids=node_ids, class_types=sorted({r.class_type for r in refs if r.class_type}),
                    url=url, catalog_url=catalog, target=target, fix=fix,
                )
            )
        return missing, misplaced, present, warnings

    # --- all together -----------------------------------------------------------------------------
    def assess(self, insp: InspectionResult, *, name: str = "") -> WorkflowReadiness:
        warnings = list(insp.warnings)
        nodes = self.missing_nodes(insp, warnings)
        missing, misplaced, present, mw = self.models(insp)
        warnings += mw
        runnable = not nodes and not missing and not misplaced
        return WorkflowReadiness(
            path=insp.path, name=name or insp.path, status="runnable" if runnable else "missing", format=insp.format,
            missing_models=missing, misplaced_models=misplaced, missing_node_types=nodes, present_models=present,
            node_types=len(insp.node_types), warnings=warnings, saved_with=getattr(insp, "comfyui_version", None),
        )


def invalid(path: str, error: str, *, name: str = "") -> WorkflowReadiness:
    """The result for a file that could not be read as a workflow."""
    return WorkflowReadiness(path=path, name=name or path, status="invalid", error=error)


def _first_anywhere(files: dict[str, dict[str, ModelFile]], name: str) -> ModelFile | None:
    for names in files.values():
        if name in names:
            return names[name]
    return None


def _rel(path: str | None, base: Path | None) -> str:
    if path is None:
        return ""
    if base is not None:
        prefix = str(base).rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :].replace(os.sep, "/")
    return path


def _natural(s: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s))


__all__ = ["VIRTUAL_CLASSES", "Assessor", "invalid", "version_at_least"]
