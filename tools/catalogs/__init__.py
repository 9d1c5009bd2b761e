"""Read-only catalogs: ComfyUI-Manager's JSON files (node map, pack list, model list).

Also here: ``model_index`` (a filename index over the Manager's model list and the URLs official
templates carry), ``notes`` (model hints from the knowledge pack) and ``refresh`` (downloads fresh
Manager files into our cache). ``ToolContext`` loads them lazily; the resolvers, ``inspect_workflow``
and readiness read them. Catalogs are third-party data: they name candidates and give evidence, but an
entry is never trusted on a near-miss name, and nothing in them is executed.
"""

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
