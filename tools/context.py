"""What a tool may know about its surroundings: folders, base URLs, tokens and caches.

Tools never read settings or the environment. The caller (the CLI or the agent) builds one
``ToolContext`` and hands it to every tool call. Tokens are ``SecretStr`` so they stay out of
``repr``, logs and traces; call :meth:`ToolContext.secret` only where a client needs the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr


class ToolContext(BaseModel):
    """Everything the project's tools may use besides their own input."""

    model_config = ConfigDict(frozen=True)

    # local ComfyUI
    comfyui_dir: Path | None = Field(default=None, description="The ComfyUI folder (holds models/ and custom_nodes/).")
    comfyui_url: str | None = Field(default=None, description="A running ComfyUI, e.g. http://127.0.0.1:8188.")
    object_info_file: Path | None = Field(default=None, description="A saved /object_info JSON used as node schemas.")
    extra_model_paths: tuple[Path, ...] = Field(default=(), description="extra_model_paths.yaml files to honour.")

    # where tools keep things
    cache_dir: Path = Field(..., description="Cache folder (catalogs, indexes, downloads in progress).")
    state_dir: Path = Field(..., description="State folder (plans, approvals, conversations).")
    manager_catalog_dir: Path | None = Field(default=None, description="Folder with ComfyUI-Manager catalog JSON files.")
    manager_wheel_dirs: tuple[Path, ...] = Field(default=(), description="Folders holding a comfyui_manager wheel.")

    # remote services
    civitai_base_url: str = Field(default="https://civitai.com", description="Civitai base URL.")
    civitai_token: SecretStr | None = Field(default=None, description="Civitai API token.")
    hf_endpoint: str = Field(default="https://huggingface.co", description="Hugging Face endpoint.")
    hf_token: SecretStr | None = Field(default=None, description="Hugging Face token.")
    runpod_base_url: str = Field(default="https://api.runpod.ai/v2", description="RunPod serverless base URL.")
    comfy_registry_url: str = Field(default="https://api.comfy.org", description="The Comfy registry API.")
    runpod_api_key: SecretStr | None = Field(default=None, description="RunPod API key.")
    runpod_endpoint_id: str | None = Field(default=None, description="RunPod serverless endpoint id.")
    http_timeout: float = Field(default=30.0, gt=0, description="Seconds before any HTTP call gives up.")
    http_retries: int = Field(default=4, ge=0, description="Retries for idempotent HTTP calls.")
    offline: bool = Field(default=False, description="Never touch the network; use caches only.")

    # Per-context memo for expensive read-only objects (catalogs, indexes): tools share them
    # within one command or conversation, without module globals.
    _memo: dict[str, Any] = PrivateAttr(default_factory=dict)

    def secret(self, name: str) -> str | None:
        """The plain value of a token field, for handing to a client. Never log it."""
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else None

    def memo(self, key: str, factory: Any) -> Any:
        """Return the object cached under ``key``, building it with ``factory()`` the first time."""
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]
