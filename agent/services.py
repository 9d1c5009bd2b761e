"""Builds the shared inputs of tools (schemas, catalogs) from settings, once per process."""

from __future__ import annotations

import logging

from comfyfixer.agent.config import Settings
from comfyfixer.tools.catalogs.manager import ManagerCatalog, load_cached_manager_catalog
from comfyfixer.tools.errors import ConfigError
from comfyfixer.tools.schema.loader import SchemaSet, bundled_core_schemas, load_schemas

log = logging.getLogger(__name__)


def schemas_for(settings: Settings, object_info: str | None = None) -> SchemaSet:
    """Node schemas: ``--object-info`` (file or URL), else settings, else the bundled core snapshot.

    A live or saved object_info is merged over the bundled core snapshot so that core classes
    stay known even when a dump is partial.
    """
    source = object_info or (str(settings.object_info_file) if settings.object_info_file else None) or settings.comfyui_url
    if source is None:
        return bundled_core_schemas()
    return load_schemas(source)


def catalog_for(settings: Settings, *, required: bool = False) -> ManagerCatalog | None:
    """ComfyUI-Manager's catalogs, or ``None`` (with a warning) when none is available."""
    try:
        return load_cached_manager_catalog(settings.cache_dir, settings.manager_catalog_dir)
    except ConfigError:
        if required:
            raise
        log.warning("ComfyUI-Manager catalogs not found; run `comfyfixer catalogs refresh`")
        return None
