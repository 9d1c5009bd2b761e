"""Read-only catalogs: ComfyUI-Manager's JSON files (node map, pack list, model list)."""

from comfyfixer.tools.catalogs.manager import (
    CATALOG_FILES,
    ManagerCatalog,
    ManagerModel,
    PackInfo,
    find_catalog_source,
    load_cached_manager_catalog,
    load_manager_catalog,
    manager_cache_dir,
    normalize_repo_url,
)

__all__ = [
    "CATALOG_FILES",
    "ManagerCatalog",
    "ManagerModel",
    "PackInfo",
    "find_catalog_source",
    "load_cached_manager_catalog",
    "load_manager_catalog",
    "manager_cache_dir",
    "normalize_repo_url",
]
