"""The one dependency object every capability receives: folders, URLs, policy, and the shared
collaborators built from them (node schemas, catalogs, API clients, the resolvers).

Capabilities never read settings or the environment. The user-facing side (``agent/services.py``)
builds one :class:`ToolContext` from the settings — once per command or conversation — and hands it
to every call, whether the call comes from the CLI or from the assistant. Everything a caller must
not choose (where to write, caches, tokens, which ComfyUI) lives here and never in a capability's
input model, so a language model cannot steer it.

Expensive collaborators are built lazily on first use and memoised per context: a conversation
that inspects ten workflows loads the catalogs once. :meth:`ToolContext.close` closes every client
the context opened; use the context as a ``with`` block.

Tokens are ``SecretStr``, so they stay out of ``repr``, logs and traces; :meth:`secret` hands the
plain value to a client and nowhere else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

if TYPE_CHECKING:
    from comfyfixer.tools.catalogs.manager import CatalogSource, ManagerCatalog
    from comfyfixer.tools.catalogs.notes import NotesIndex
    from comfyfixer.tools.civitai import CivitaiClient
    from comfyfixer.tools.comfy_registry import ComfyRegistryClient
    from comfyfixer.tools.download.hosts import HostPolicy
    from comfyfixer.tools.huggingface import HuggingFaceClient
    from comfyfixer.tools.modelscope import ModelScopeClient
    from comfyfixer.tools.resolver import ModelResolver, NodeResolver
    from comfyfixer.tools.schema.loader import SchemaSet

log = logging.getLogger(__name__)
T = TypeVar("T")


class ToolContext(BaseModel):
    """Everything the project's capabilities may use besides their own input.

    The field names are those of the settings they come from, so the builder copies them by name.
    """

    model_config = ConfigDict(frozen=True)

    # local ComfyUI
    comfyui_dir: Path | None = Field(default=None, description="The ComfyUI folder (holds models/ and custom_nodes/).")
    comfyui_url: str | None = Field(default=None, description="A running ComfyUI, e.g. http://127.0.0.1:8188.")
    comfyui_python: Path | None = Field(default=None, description="ComfyUI's Python, for pack requirements.")
    object_info_file: Path | None = Field(default=None, description="A saved /object_info JSON used as node schemas.")
    extra_model_paths: tuple[Path, ...] = Field(default=(), description="extra_model_paths.yaml files to honour.")

    # where capabilities keep things
    cache_dir: Path = Field(..., description="Cache folder (catalogs, indexes, downloads in progress).")
    state_dir: Path = Field(..., description="State folder (plans, approvals, conversations).")
    use_cache: bool = Field(default=True, description="Read and write the inventory and resolver caches.")
    manager_catalog_dir: Path | None = Field(default=None, description="Folder with ComfyUI-Manager catalog JSON files.")
    manager_wheel_dirs: tuple[Path, ...] = Field(default=(), description="Folders holding a comfyui_manager wheel.")
    catalogs_url: str = Field(default="https://raw.githubusercontent.com/ltdrdata/ComfyUI-Manager/main",
                              description="Where ComfyUI-Manager's catalog files are fetched from (a mirror works).")
    # Off unless the settings turn it on (daily by default there): a context built in code never reaches out.
    catalogs_max_age_hours: float = Field(default=0.0, description="Refresh the catalogs automatically when "
                                          "older than this; 0 turns automatic refreshing off.")

    # remote services
    civitai_base_url: str = Field(default="https://civitai.com", description="Civitai base URL.")
    civitai_token: SecretStr | None = Field(default=None, description="Civitai API token.")
    hf_endpoint: str = Field(default="https://huggingface.co", description="Hugging Face endpoint.")
    hf_token: SecretStr | None = Field(default=None, description="Hugging Face token.")
    use_modelscope: bool = Field(default=False, description="Also look for models on ModelScope (modelscope.cn).")
    modelscope_endpoint: str = Field(default="https://modelscope.cn", description="ModelScope endpoint.")
    runpod_base_url: str = Field(default="https://api.runpod.ai/v2", description="RunPod serverless base URL.")
    comfy_registry_url: str = Field(default="https://api.comfy.org", description="The Comfy registry API.")
    pip_index_url: str = Field(default="https://pypi.org/simple", description="The package index pip uses for pack requirements.")
    runpod_api_key: SecretStr | None = Field(default=None, description="RunPod API key.")
    runpod_endpoint_id: str | None = Field(default=None, description="RunPod serverless endpoint id.")
    http_timeout: float = Field(default=30.0, gt=0, description="Seconds before any HTTP call gives up.")
    http_retries: int = Field(default=4, ge=0, description="Retries for idempotent HTTP calls.")
    offline: bool = Field(default=False, description="Never touch the network; use caches only.")

    # policy for plans and downloads
    allowed_hosts: tuple[str, ...] = Field(default=(), description="Hosts added to the download allow-list.")
    max_download_bytes: int = Field(default=60 * 1024**3, gt=0, description="Cap for one download.")
    max_total_bytes: int = Field(default=200 * 1024**3, gt=0, description="Cap for one plan.")
    license_allowlist: tuple[str, ...] = Field(default=(), description="Licences accepted without confirmation.")
    approval_ttl_seconds: int = Field(default=30 * 60, gt=0, description="How long an approval token lives.")

    # Per-context memo for expensive read-only objects and open clients, shared by every call made
    # with this context (and by copies of it), without module globals.
    _memo: dict[str, Any] = PrivateAttr(default_factory=dict)

    # --- plumbing -------------------------------------------------------------------------------
    def secret(self, name: str) -> str | None:
        """The plain value of a token field, for handing to a client. Never log it."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else None

    def memo(self, key: str, factory: Any) -> Any:
        """Return the object cached under ``key``, building it with ``factory()`` the first time."""
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]

    def close(self) -> None:
        """Close every client this context opened and forget what was built on them (a resolver keeps
        its clients), so everything is rebuilt if the context is used again."""
        for key, value in list(self._memo.items()):
            if callable(getattr(value, "close", None)):
                try:
                    value.close()
                except Exception:  # closing must never hide the result of the work itself
                    log.debug("closing %s failed", key, exc_info=True)
        self._memo.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- shared collaborators ---------------------------------------------------------------------
    def schemas(self, source: str | Path | None = None) -> SchemaSet:
        """Node schemas: an explicit object_info file or URL, else the context's file, else the
        running ComfyUI, else the bundled core snapshot (a dump is merged over the core set)."""
        from comfyfixer.tools.schema.loader import bundled_core_schemas, load_schemas

        src = source or self.object_info_file or self.comfyui_url
        if src is None:
            return bundled_core_schemas()
        key = str(src)
        return self.memo(f"schemas:{key}", lambda: load_schemas(key))

    def _fresh_catalogs(self) -> tuple[str, ...]:
        """Fetch the catalogs on first use or when stale (conditionally; never fails the command), once per
        context; returns what that said (empty when nothing needed saying)."""
        from comfyfixer.tools.catalogs.manager import manager_cache_dir
        from comfyfixer.tools.catalogs.refresh import ensure_catalogs

        def ensure() -> tuple[str, ...]:
            if self.manager_catalog_dir is not None:
                return ()
            fresh = ensure_catalogs(manager_cache_dir(self.cache_dir), base_url=self.catalogs_url,
                                    max_age_hours=self.catalogs_max_age_hours, offline=self.offline,
                                    timeout=self.http_timeout, retries=min(self.http_retries, 1))
            return (fresh.message,) if fresh.message else ()

        return self.memo(f"manager-catalog-fresh:{self.manager_catalog_dir}:{self.cache_dir}:{self.catalogs_url}:"
                         f"{self.catalogs_max_age_hours}:{self.offline}", ensure)

    def catalog_source(self) -> CatalogSource | None:
        """Where :meth:`catalog` reads the catalogs from (after the same refresh), without parsing them;
        ``None`` when there are none. A cache can key on it: a refresh makes a new version folder."""
        from comfyfixer.tools.catalogs.manager import cached_catalog_source
        from comfyfixer.tools.errors import ConfigError

        self._fresh_catalogs()
        try:
            return cached_catalog_source(self.cache_dir, self.manager_catalog_dir, self.manager_wheel_dirs)
        except ConfigError:
            return None

    def catalog(self) -> ManagerCatalog | None:
        """ComfyUI-Manager's catalogs, or ``None`` when none can be found (capabilities then name
        fewer packs instead of failing; the reason is logged once)."""
        from comfyfixer.tools.catalogs.manager import load_cached_manager_catalog
        from comfyfixer.tools.errors import ConfigError

        def load() -> ManagerCatalog | None:
            said = self._fresh_catalogs()
            try:
                return load_cached_manager_catalog(self.cache_dir, self.manager_catalog_dir, self.manager_wheel_dirs)
            except ConfigError:
                if not said:  # the refresh already said why there are none
                    log.warning("ComfyUI-Manager catalogs not found; run `comfyfixer catalogs refresh`")
                return None

        # Keyed by where it is read from: a copied context shares the memo but may point elsewhere.
        where = f"{self.manager_catalog_dir}:{self.manager_wheel_dirs}:{self.cache_dir}"
        return self.memo(f"manager-catalog:{where}", load)

    def notes(self) -> NotesIndex | None:
        """The knowledge pack's model notes (file → folder tables shipped with the package)."""
        from comfyfixer.tools.catalogs.notes import load_notes

        def load() -> NotesIndex | None:
            import comfyfixer.knowledge as knowledge

            folder = Path(next(iter(knowledge.__path__)))
            return load_notes(folder) if folder.is_dir() else None

        return self.memo("knowledge-notes", load)

    def civitai(self) -> CivitaiClient | None:
        """The Civitai API client, or ``None`` offline."""
        if self.offline:
            return None
        from comfyfixer.tools.civitai import CivitaiClient

        return self.memo(f"client:civitai:{self.civitai_base_url}", lambda: CivitaiClient(
            base_url=self.civitai_base_url, token=self.secret("civitai_token"),
            timeout=self.http_timeout, retries=self.http_retries))

    def huggingface(self) -> HuggingFaceClient:
        """The Hugging Face client (it answers from its cache when offline)."""
        from comfyfixer.tools.huggingface import HuggingFaceClient

        return self.memo(f"client:hf:{self.hf_endpoint}:{self.offline}", lambda: HuggingFaceClient(
            endpoint=self.hf_endpoint, token=self.secret("hf_token"), timeout=self.http_timeout,
            retries=self.http_retries, offline=self.offline))

    def modelscope(self) -> ModelScopeClient | None:
        """The ModelScope client, or ``None`` offline or when ModelScope is not enabled."""
        if self.offline or not self.use_modelscope:
            return None
        from comfyfixer.tools.modelscope import ModelScopeClient

        return self.memo(f"client:modelscope:{self.modelscope_endpoint}", lambda: ModelScopeClient(
            endpoint=self.modelscope_endpoint, timeout=self.http_timeout, retries=self.http_retries))

    def registry_client(self) -> ComfyRegistryClient | None:
        """The Comfy registry client, or ``None`` offline."""
        if self.offline:
            return None
        from comfyfixer.tools.comfy_registry import ComfyRegistryClient

        return self.memo(f"client:registry:{self.comfy_registry_url}", lambda: ComfyRegistryClient(
            self.comfy_registry_url, timeout=self.http_timeout, retries=self.http_retries))

    def model_resolver(self, *, catalogs: bool = True, templates: bool = True) -> ModelResolver:
        """The model resolver: template and catalog index, knowledge notes, Hugging Face, Civitai
        and the verdict cache — the same one for the CLI and the assistant."""
        from comfyfixer.tools.catalogs.model_index import build_model_index, find_template_dirs
        from comfyfixer.tools.resolver import DiskCache, ModelResolver

        catalog = self.catalog() if catalogs else None

        def build() -> ModelResolver:
            index = build_model_index(catalog, find_template_dirs() if templates else [])
            return ModelResolver(index=index, hf=self.huggingface(), civitai=self.civitai(),
                                 cache=DiskCache(self.cache_dir / "resolver"), notes=self.notes(),
                                 modelscope=self.modelscope())

        return self.memo(f"model-resolver:{catalogs}:{templates}:{id(catalog)}:{self.offline}", build)

    def node_resolver(self) -> NodeResolver:
        """The node-class resolver: ComfyUI-Manager's node map, confirmed by the Comfy registry."""
        from comfyfixer.tools.resolver import NodeResolver

        return NodeResolver(self.catalog(), self.registry_client())

    def host_policy(self) -> HostPolicy:
        """The download allow-list with each token bound to its service's origin (one rule for every caller)."""
        from comfyfixer.tools.download.hosts import HostPolicy

        return HostPolicy.for_services(
            self.allowed_hosts, civitai_base_url=self.civitai_base_url, civitai_token=self.secret("civitai_token"),
            hf_endpoint=self.hf_endpoint, hf_token=self.secret("hf_token"))

    def inventory_cache_dir(self) -> Path | None:
        """Where the inventory and inspection caches live, or ``None`` when caching is off."""
        return self.cache_dir / "inventory" if self.use_cache else None
