"""A filename index over the model catalogs: ComfyUI-Manager's ``model-list.json`` and the download URLs
that official templates (and any workflow) carry in ``properties.models``.

Lookups are by exact basename; the resolver never trusts a catalog on a near-miss name.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from comfyfixer.tools.candidates import DownloadCandidate
from comfyfixer.tools.catalogs.manager import ManagerCatalog
from comfyfixer.tools.model_folders import model_basename

log = logging.getLogger(__name__)

# Packages that ship the official templates; read as data, never imported.
TEMPLATE_PACKAGES = ("comfyui_workflow_templates_json", "comfyui_workflow_templates", "comfyui_workflow_templates_core")


class ModelIndex:
    """``basename → [DownloadCandidate]`` with the sources it was built from.

    Candidates here are not yet checked or scored: the resolver adds hashes (for Hugging Face URLs),
    reasons and scores. ``sources`` lists one line per catalog added, for the verdict's ``searched``.
    """

    def __init__(self) -> None:
        self.by_name: dict[str, list[DownloadCandidate]] = {}
        self.sources: list[str] = []

    def add(self, entry: DownloadCandidate) -> None:
        """Add one entry; the same URL from the same source is kept once."""
        entries = self.by_name.setdefault(entry.filename, [])
        if not any(e.url == entry.url and e.source == entry.source for e in entries):
            entries.append(entry)

    def lookup(self, filename: str) -> list[DownloadCandidate]:
        """Entries whose basename equals ``filename``'s basename exactly (case-sensitive, like ComfyUI on
        Linux).
        """
        return list(self.by_name.get(model_basename(filename), []))

    def names(self) -> list[str]:
        """Every basename in the index (for fuzzy near-miss lookups)."""
        return list(self.by_name)

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_name.values())

    # ---------------------------------------------------------------- builders
    def add_manager(self, catalog: ManagerCatalog) -> int:
        """Add every model of the Manager's ``model-list.json``; returns how many.

        ``save_path`` becomes the folder kind and sub-folder (``"default"`` maps the Manager's type to a
        folder); the catalog's size label is kept as ``size_label``, not as bytes.
        """
        n = 0
        for m in catalog.models:
            folder, sub = _split_save_path(m.save_path, m.type)
            self.add(DownloadCandidate(filename=model_basename(m.filename), url=m.url, source="catalog:manager", folder=folder,
                                  subfolder=sub, base_model=m.base, size_label=m.size, name=m.name,
                                  origin=catalog.source.describe()))
            n += 1
        self.sources.append(f"{catalog.source.describe()}: {n} models")
        return n

    def add_workflow_models(self, workflow: Any, *, origin: str, source: str = "catalog:workflow") -> int:
        """Every ``properties.models`` entry of a UI workflow (subgraphs included) and its top-level
        ``models``.

        Only entries with a string name and an ``https://`` URL are kept; ``directory`` becomes the folder
        kind. Returns how many were added.
        """
        n = 0
        for m in iter_properties_models(workflow):
            name, url = m.get("name"), m.get("url")
            if not isinstance(name, str) or not isinstance(url, str) or not url.startswith("https://"):
                continue
            self.add(DownloadCandidate(filename=model_basename(name), url=url, source=source,
                                  folder=m.get("directory") if isinstance(m.get("directory"), str) else None,
                                  subfolder=None, origin=origin))
            n += 1
        return n

    def add_templates(self, folders: Iterable[Path]) -> int:
        """Add the models of every ``*.json`` template in ``folders``; files that are not JSON are skipped.
        Returns how many entries were added.
        """
        n = 0
        for folder in folders:
            files = sorted(Path(folder).glob("*.json"))
            for path in files:
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                n += self.add_workflow_models(data, origin=f"template {path.stem}", source="catalog:templates")
            self.sources.append(f"official templates ({folder}): {len(files)} workflows")
        return n


def _split_save_path(save_path: str | None, type_: str | None) -> tuple[str | None, str | None]:
    if not save_path or save_path == "default":
        return _MANAGER_TYPE_FOLDER.get((type_ or "").lower()), None
    parts = save_path.strip("/").split("/", 1)
    return parts[0], (parts[1] if len(parts) > 1 else None)


# Manager's "default" save_path means "the folder of this type".
_MANAGER_TYPE_FOLDER = {
    "checkpoint": "checkpoints", "lora": "loras", "vae": "vae", "controlnet": "controlnet", "t2i-adapter": "controlnet",
    "upscale": "upscale_models", "embedding": "embeddings", "clip": "text_encoders", "clip_vision": "clip_vision",
    "unet": "diffusion_models", "diffusion_model": "diffusion_models", "gligen": "gligen", "taesd": "vae_approx",
    "ip-adapter": "ipadapter",
}


def iter_properties_models(workflow: Any) -> Iterable[dict[str, Any]]:
    """``properties.models`` dicts of every node (subgraph definitions too) plus the workflow's own
    ``models``.

    Walks nested subgraph definitions without recursion, so a deep or hostile file cannot hit Python's
    recursion limit. Non-dict entries are skipped; nothing is validated beyond being a dict.
    """
    if not isinstance(workflow, dict):
        return
    stack: list[Any] = [workflow]
    while stack:
        graph = stack.pop()
        if not isinstance(graph, dict):
            continue
        for m in graph.get("models") or []:
            if isinstance(m, dict):
                yield m
        for node in graph.get("nodes") or []:
            if isinstance(node, dict):
                props = node.get("properties")
                if isinstance(props, dict):
                    for m in props.get("models") or []:
                        if isinstance(m, dict):
                            yield m
        defs = graph.get("definitions")
        if isinstance(defs, dict):
            stack.extend(defs.get("subgraphs") or [])


def find_template_dirs() -> list[Path]:
    """Template folders of installed template packages (located without importing them).

    Looks for a ``templates/`` folder in each package of ``TEMPLATE_PACKAGES``; ``[]`` when none is
    installed (the index then has only the Manager's list).
    """
    out = []
    for name in TEMPLATE_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for loc in spec.submodule_search_locations:
            d = Path(loc) / "templates"
            if d.is_dir() and d not in out:
                out.append(d)
    return out


def build_model_index(
    manager: ManagerCatalog | None = None, template_dirs: Iterable[Path] = (), workflows: Iterable[tuple[str, Any]] = ()
) -> ModelIndex:
    """An index over the given catalogs (each optional).

    ``workflows`` are ``(origin, parsed UI workflow)`` pairs, for URLs a user's own workflows carry.
    """
    idx = ModelIndex()
    if manager is not None:
        idx.add_manager(manager)
    idx.add_templates(template_dirs)
    for origin, wf in workflows:
        idx.add_workflow_models(wf, origin=origin)
    return idx
