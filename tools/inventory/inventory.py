"""The local inventory: model files by folder, installed packs and their node classes, ComfyUI's version.

:func:`build_inventory` prefers a live server when one is given and answers (the server's view is what
a workflow will meet), and otherwise reads the folder. When both are available the folder still fills
in files from model folders the server does not list, and lends pack identities to the live classes.
If the server does not answer but a folder was given, the static read is used with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from comfyfixer.tools.errors import ComfyFixerError, ConfigError, InputError
from comfyfixer.tools.inventory.cache import InventoryCache
from comfyfixer.tools.inventory.custom_nodes import (
    CustomNodeInventory,
    inventory_from_object_info,
    scan_custom_nodes,
)
from comfyfixer.tools.inventory.extra_paths import ExtraPath, apply_extra_paths, parse_extra_model_paths
from comfyfixer.tools.inventory.live import fetch_live
from comfyfixer.tools.inventory.models import ModelInventory, inventory_from_listings, scan_models
from comfyfixer.tools.model_folders import default_folder_paths

log = logging.getLogger(__name__)


class InventoryInput(BaseModel):
    """Where to look for the local ComfyUI.

    At least one of ``comfyui_dir`` and ``comfyui_url`` must be given (else ``build_inventory`` raises
    ``InputError``). ``cache_dir`` is used only when the caller does not pass its own ``InventoryCache``.
    """

    comfyui_dir: Path | None = Field(default=None, description="The ComfyUI folder (holds models/ and custom_nodes/).")
    comfyui_url: str | None = Field(default=None, description="A running ComfyUI (http://127.0.0.1:8188); authoritative when it answers.")
    extra_model_paths: list[Path] = Field(
        default_factory=list, description="extra_model_paths.yaml files besides <comfyui_dir>/extra_model_paths.yaml."
    )
    cache_dir: Path | None = Field(default=None, description="Folder for the persistent inventory cache; None = no cache.")
    timeout: float = Field(default=15.0, gt=0, description="Seconds before a live server call gives up.")


@dataclass
class LocalInventory:
    """Everything known about the local install.

    ``object_info`` is the live server's full schema answer (None for a static read). ``comfyui_version``
    comes from the server's ``/system_stats`` or from ``comfyui_version.py``. ``extra_paths`` are the yaml
    entries applied; ``warnings`` are plain sentences for reports (for example a server that did not
    answer).
    """

    models: ModelInventory
    nodes: CustomNodeInventory
    comfyui_dir: Path | None = None
    comfyui_url: str | None = None
    comfyui_version: str | None = None
    object_info: dict[str, dict[str, Any]] | None = None  # live only
    extra_paths: list[ExtraPath] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """One line for reports: where the inventory came from and how."""
        where = self.comfyui_url if self.nodes.method == "live" else str(self.comfyui_dir or "?")
        ver = f", ComfyUI {self.comfyui_version}" if self.comfyui_version else ""
        return f"{self.nodes.method} ({where}{ver})"

    def installed_classes(self) -> set[str]:
        """Node classes the packs of this install provide (live: every class the server knows)."""
        if self.object_info is not None:
            return set(self.object_info)
        return set(self.nodes.class_to_pack)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready overview the readiness check puts in reports: sources, model counts per folder
        key, the yaml files read, one line per pack (name, enabled, class count, identity) and warnings.
        """
        return {
            "source": self.source,
            "method": self.nodes.method,
            "limits": self.nodes.limits,
            "comfyui_dir": str(self.comfyui_dir) if self.comfyui_dir else None,
            "comfyui_url": self.comfyui_url,
            "comfyui_version": self.comfyui_version,
            "models_by_folder": self.models.counts(),
            "extra_model_paths": sorted({str(e.source) for e in self.extra_paths}),
            "packs": [
                {"name": p.name, "enabled": p.enabled, "classes": len(p.classes), "registry_id": p.registry_id,
                 "reference": p.reference}
                for p in self.nodes.packs
            ],
            "warnings": list(self.warnings),
        }


def read_comfyui_version(comfyui_dir: Path) -> str | None:
    """``comfyui_version.py``'s ``__version__`` (absent in very old installs)."""
    try:
        text = (comfyui_dir / "comfyui_version.py").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", text)
    return m.group(1) if m else None


def model_folder_table(comfyui_dir: Path, extra_yamls: list[Path]) -> tuple[dict[str, list[Path]], list[ExtraPath]]:
    """Default folders of ``comfyui_dir`` (the keys its ComfyUI version registers) plus its own
    ``extra_model_paths.yaml`` and ``extra_yamls``.

    Returns the table (folder key → directories in search order) and the extra paths applied. Raises
    ``ConfigError`` if a yaml named in ``extra_yamls`` does not exist or cannot be parsed.
    """
    table = default_folder_paths(comfyui_dir, read_comfyui_version(comfyui_dir))
    extras: list[ExtraPath] = []
    own = comfyui_dir / "extra_model_paths.yaml"
    for y in ([own] if own.is_file() else []) + [Path(p) for p in extra_yamls]:
        if not y.is_file():
            raise ConfigError(f"extra model paths file not found: {y}", hint="check --extra-model-paths")
        extras += parse_extra_model_paths(y)
    return apply_extra_paths(table, extras), extras


def build_inventory(inp: InventoryInput, *, cache: InventoryCache | None = None) -> LocalInventory:
    """Inventory the local ComfyUI: live server when given and answering, else a static read of the folder.

    Raises ``InputError`` when neither a usable folder nor a server is available, or when ``comfyui_dir``
    does not exist; ``ConfigError`` for a bad yaml; the live server's ``TransportError``/``UpstreamError``
    only when no folder was given to fall back on. A cache opened here from ``inp.cache_dir`` is closed
    before returning.
    """
    comfy_dir = inp.comfyui_dir.expanduser().resolve() if inp.comfyui_dir else None
    if comfy_dir is not None and not comfy_dir.is_dir():
        raise InputError(f"ComfyUI folder not found: {comfy_dir}", hint="pass the folder that holds models/ and custom_nodes/")
    own_cache = cache is None and inp.cache_dir is not None
    if own_cache:
        cache = InventoryCache(inp.cache_dir)
    try:
        warnings: list[str] = []
        local_nodes: CustomNodeInventory | None = None
        models: ModelInventory | None = None
        extras: list[ExtraPath] = []
        if comfy_dir is not None:
            table, extras = model_folder_table(comfy_dir, inp.extra_model_paths)
            models = scan_models(table, base_dir=comfy_dir, cache=cache)
            local_nodes = scan_custom_nodes([Path(p) for p in table.get("custom_nodes", [])], cache=cache)
        if inp.comfyui_url:
            try:
                snap = fetch_live(inp.comfyui_url, timeout=inp.timeout)
            except ComfyFixerError as exc:
                if comfy_dir is None:
                    raise
                warnings.append(f"{exc}; read the folder statically instead")
            else:
                live_models = inventory_from_listings(snap.model_listings, snap.base_url)
                if models is not None:  # the folder still helps to find files the server does not list
                    for f in (f for fs in models.by_basename.values() for f in fs):
                        if f.key not in snap.model_listings:
                            live_models.add(f)
                return LocalInventory(
                    models=live_models,
                    nodes=inventory_from_object_info(snap.object_info, local=local_nodes),
                    comfyui_dir=comfy_dir,
                    comfyui_url=snap.base_url,
                    comfyui_version=snap.comfyui_version or (read_comfyui_version(comfy_dir) if comfy_dir else None),
                    object_info=snap.object_info,
                    extra_paths=extras,
                    warnings=warnings,
                )
        if comfy_dir is None or models is None or local_nodes is None:
            raise InputError("no ComfyUI to check against", hint="pass --comfyui DIR or --comfyui-url URL")
        return LocalInventory(
            models=models,
            nodes=local_nodes,
            comfyui_dir=comfy_dir,
            comfyui_url=inp.comfyui_url,
            comfyui_version=read_comfyui_version(comfy_dir),
            extra_paths=extras,
            warnings=warnings,
        )
    finally:
        if own_cache and cache is not None:
            cache.close()
