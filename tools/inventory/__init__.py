"""The local ComfyUI inventory: model folders, installed custom-node packs, a persistent cache.

Entry point: :func:`build_inventory` (an :class:`InventoryInput` → :class:`LocalInventory`), used by
``tools/readiness`` for ``check``/``fix`` and by ``tools/reconstruct`` to see which models are present.
Two ways to know an install, chosen per call: a running ComfyUI (``/object_info`` and ``/models``,
exact for that server) or a static read of the folder (model directories walked, packs parsed with
``ast`` and never imported). The folder rules copy ComfyUI's own ``folder_paths.py`` and
``extra_model_paths.yaml`` handling so "missing" means what ComfyUI would say. Nothing here writes
into the ComfyUI folder; the only file written is the SQLite cache under the caller's cache folder.
"""

from comfyfixer.tools.inventory.cache import InventoryCache
from comfyfixer.tools.inventory.custom_nodes import (
    CustomNodeInventory,
    InstalledPack,
    inventory_from_object_info,
    read_pack,
    scan_custom_nodes,
)
from comfyfixer.tools.inventory.extra_paths import ExtraPath, apply_extra_paths, parse_extra_model_paths
from comfyfixer.tools.inventory.inventory import (
    InventoryInput,
    LocalInventory,
    build_inventory,
    model_folder_table,
    read_comfyui_version,
)
from comfyfixer.tools.inventory.live import LiveSnapshot, fetch_live
from comfyfixer.tools.inventory.models import (
    ModelFile,
    ModelInventory,
    file_sha256,
    group_by_kind,
    inventory_from_listings,
    scan_models,
)
from comfyfixer.tools.model_folders import canonical_folder, default_folder_paths, normalize_model_name

__all__ = [
    "CustomNodeInventory",
    "ExtraPath",
    "InstalledPack",
    "InventoryCache",
    "InventoryInput",
    "LiveSnapshot",
    "LocalInventory",
    "ModelFile",
    "ModelInventory",
    "apply_extra_paths",
    "build_inventory",
    "canonical_folder",
    "default_folder_paths",
    "fetch_live",
    "file_sha256",
    "group_by_kind",
    "inventory_from_listings",
    "inventory_from_object_info",
    "model_folder_table",
    "normalize_model_name",
    "parse_extra_model_paths",
    "read_comfyui_version",
    "read_pack",
    "scan_custom_nodes",
    "scan_models",
]
