"""Settings: the one module that reads the environment, ``.env`` and config files.

Precedence, highest first:

1. values passed in code (CLI flags are passed this way),
2. environment variables (``COMFYFIXER_*``; a few well-known names such as
   ``CIVITAI_API_TOKEN``, ``HF_TOKEN``, ``HF_ENDPOINT`` and ``RUNPOD_API_KEY`` too),
3. a ``.env`` file in the current directory,
4. ``comfyfixer.toml`` in the current directory,
5. ``comfyfixer.toml`` in the user config directory (``COMFYFIXER_HOME`` or the platform's),
6. defaults.

Secrets are ``SecretStr``: they never appear in ``repr``, logs, reports or cassettes.
Tools never read settings: the agent builds what a tool needs (tokens, base URLs,
folders) and passes it in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from comfyfixer.agent.home import CONFIG_FILE_NAME, default_cache_dir, default_state_dir, settings_files
from comfyfixer.tools.errors import ConfigError


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseModel):
    """Every setting of ComfyFixerSmart, typed and validated.

    Built once per command or conversation by ``load_settings`` and turned into a ``ToolContext`` by
    ``agent/services.py::build_context``; nothing below ``agent/`` ever sees this object. Each field's
    environment name is ``COMFYFIXER_<FIELD>`` unless a ``validation_alias`` lists well-known names as well
    (``CIVITAI_API_TOKEN``, ``HF_TOKEN``, ``HF_ENDPOINT``, ``RUNPOD_API_KEY``, ``DASHSCOPE_API_KEY``).

    Fields without a description: ``cache_dir`` (HTTP and inventory caches, safe to delete);
    ``civitai_base_url``, ``runpod_base_url`` and ``llm_base_url`` (no trailing slash, must be http(s));
    ``runpod_endpoint_id`` (the serverless endpoint jobs go to); ``http_retries`` (retries after the first
    try, 0–10); ``license_allowlist`` (licence ids a plan may download; empty allows all);
    ``approval_ttl_seconds`` (lifetime of an approval token, default 30 minutes); the ``llm_*`` fields
    (OpenAI-compatible server, model name, key, whether to use native tool calls, request timeout in seconds,
    sampling temperature, max tokens per reply, max tool rounds per question, and the pinned seed that
    makes runs repeatable); ``log_level`` (a ``logging`` level name).

    List fields (``extra_model_paths``, ``allowed_hosts``, ``license_allowlist``) accept a comma-separated
    string, because environment variables cannot carry lists. Unknown keys are ignored so an old ``.env``
    does not break a run. The sources are read by :func:`load_settings` (a plain model, not
    pydantic-settings: that package and the asyncio it imports cost every command a tenth of a second).
    """

    model_config = ConfigDict(
        # A retired key in an old .env or comfyfixer.toml must not stop every command.
        extra="ignore",
        populate_by_name=True,
        # Defaults go through the validators too (the URL fields lose any trailing slash).
        validate_default=True,
    )

    # --- local ComfyUI -----------------------------------------------------
    comfyui_dir: Path | None = Field(None, description="The ComfyUI folder (holds models/ and custom_nodes/).")
    comfyui_url: str | None = Field(None, description="A running ComfyUI, e.g. http://127.0.0.1:8188.")
    comfyui_python: Path | None = Field(None, description="ComfyUI's Python, for installing pack requirements.")
    object_info_file: Path | None = Field(None, description="A saved /object_info JSON to use as node schemas.")
    extra_model_paths: list[Path] = Field(
        default_factory=list, description="Extra extra_model_paths.yaml files (comma-separated in the env)."
    )

    # --- where we keep things -----------------------------------------------
    cache_dir: Path = Field(default_factory=default_cache_dir)
    state_dir: Path = Field(default_factory=default_state_dir, description="Plans, journal, approvals.")
    history_max_versions: int = Field(20, ge=2, description="Versions of each checked workflow kept in the state "
                                      "folder's history (for diffs and regression reports).")
    manager_catalog_dir: Path | None = Field(
        None, description="A folder holding ComfyUI-Manager's extension-node-map.json and friends."
    )
    catalogs_url: str = Field("https://raw.githubusercontent.com/ltdrdata/ComfyUI-Manager/main",
                              description="Where ComfyUI-Manager's catalog files are fetched from (a mirror works).")
    catalogs_max_age_hours: float = Field(24.0, ge=0, description="Refresh the catalogs automatically when older "
                                          "than this many hours (first use too); 0 turns it off.")

    # --- remote services ------------------------------------------------------
    civitai_base_url: str = "https://civitai.com"
    civitai_token: SecretStr | None = Field(
        None, validation_alias=_alias("COMFYFIXER_CIVITAI_TOKEN", "CIVITAI_API_TOKEN", "civitai_token")
    )
    hf_endpoint: str = Field(
        "https://huggingface.co", validation_alias=_alias("HF_ENDPOINT", "COMFYFIXER_HF_ENDPOINT", "hf_endpoint")
    )
    hf_token: SecretStr | None = Field(
        None, validation_alias=_alias("COMFYFIXER_HF_TOKEN", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "hf_token")
    )
    runpod_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("COMFYFIXER_RUNPOD_API_KEY", "RUNPOD_API_KEY", "runpod_api_key")
    )
    use_modelscope: bool = Field(False, description="Also look for models on ModelScope (COMFYFIXER_USE_MODELSCOPE).")
    modelscope_endpoint: str = Field("https://modelscope.cn", description="ModelScope endpoint.")
    comfy_registry_url: str = Field("https://api.comfy.org", description="The Comfy registry API (pack ids → repos).")
    pip_index_url: str = Field("https://pypi.org/simple", description="The package index (PEP 503 simple) pip uses "
                               "for pack requirements, at plan time (dry run) and apply time.")
    runpod_endpoint_id: str | None = None
    runpod_base_url: str = "https://api.runpod.ai/v2"
    http_timeout: float = Field(30.0, gt=0, description="Seconds before any HTTP call gives up.")
    http_retries: int = Field(4, ge=0, le=10)
    offline: bool = Field(False, description="Never touch the network; use caches only.")

    # --- downloads policy -----------------------------------------------------
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts added to the download allow-list (comma-separated in the env)."
    )
    max_download_bytes: int = Field(60 * 1024**3, gt=0, description="Cap for one download.")
    max_total_bytes: int = Field(200 * 1024**3, gt=0, description="Cap for one plan.")
    license_allowlist: list[str] = Field(default_factory=list)
    approval_ttl_seconds: int = Field(30 * 60, gt=0)

    # --- the LLM ----------------------------------------------------------------
    llm_base_url: str = "http://127.0.0.1:11434/v1"
    llm_model: str = "qwen2.5:7b-instruct"
    llm_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("COMFYFIXER_LLM_API_KEY", "DASHSCOPE_API_KEY", "llm_api_key")
    )
    llm_native_tools: bool = True
    llm_timeout: float = Field(120.0, gt=0)
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(2048, gt=0)
    llm_max_rounds: int = Field(8, gt=0, le=50)
    llm_seed: int = 1234
    # 0 = learn it from the server (/v1/models, llama.cpp /props, Ollama /api/show), else 16384.
    llm_context_length: int = Field(0, ge=0)
    # One cheap probe per endpoint (cached) that detects a server dropping native tools or tool results.
    llm_probe: bool = True

    # --- the schedule (agent/scheduler.py) -----------------------------------------
    schedule_every: str = Field("2h", description="How often `comfyfixer schedule` re-checks (90s, 30m, 2h, 1d).")
    schedule_require_comfyui: bool = Field(True, description="Run a scheduled cycle only while ComfyUI answers "
                                           "/system_stats at comfyui_url.")
    schedule_min_vram_free_mb: int = Field(0, ge=0, description="Run a scheduled cycle only with at least this much "
                                           "VRAM free on ComfyUI's best device (0: no condition).")
    schedule_run_missed_on_wake: bool = Field(True, description="Run a cycle missed while the machine slept once "
                                              "on wake (else wait for the next interval).")
    schedule_discover: bool = Field(True, description="Each scheduled cycle looks up what is still missing "
                                    "(resolver cache and rate limits; never downloads).")
    service_dir: Path | None = Field(None, description="Where `schedule install` writes the OS service files "
                                     "(default: the OS's per-user folder).")

    # --- the ComfyUI node pack (comfyfixer_nodes) ---------------------------------
    capture: bool = Field(False, description="Runtime capture in ComfyUI: record what each run really used "
                          "(COMFYFIXER_CAPTURE=1); the save node's toggle turns it on per prompt.")
    metadata_inline_budget: int = Field(32 * 1024, ge=1024, description="Bytes of metadata embedded in an image "
                                        "by the save node; heavier graphs and captures go to a JSON sidecar.")

    log_level: str = "WARNING"

    @field_validator("extra_model_paths", "allowed_hosts", "license_allowlist", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        """Accept a comma-separated string for list fields (environment variables cannot hold lists)."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("civitai_base_url", "hf_endpoint", "llm_base_url", "runpod_base_url", "comfy_registry_url",
                     "pip_index_url", "catalogs_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        """Require http(s) and drop a trailing slash, so URLs can be joined with ``/path``."""
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def secret(self, name: str) -> str | None:
        """The plain value of a secret field, for handing to a client. Never log it.

        ``name`` is the field name (``"civitai_token"``); returns None when the secret is unset or the field
        is not a ``SecretStr``.
        """
        value = getattr(self, name)
        return value.get_secret_value() if isinstance(value, SecretStr) else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from ``overrides`` plus the sources in the module docstring.

    ``None`` overrides are dropped, so a CLI flag that was not given does not shadow the environment.
    Raises ``ConfigError`` listing every invalid field as ``field: reason`` (pydantic's messages, without
    its documentation links), with a hint to fix the variable or file entry named.
    """
    values: dict[str, Any] = {}
    for source in reversed(_sources()):  # lowest precedence first, each higher one overwrites
        values.update(source)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            parts.append(f"{loc}: {err['msg']}")
        raise ConfigError(
            "invalid settings: " + "; ".join(parts),
            hint=f"fix the COMFYFIXER_* variable, .env or {CONFIG_FILE_NAME} entry named",
        ) from None


def _names(name: str) -> tuple[str, ...]:
    """The names a field is known by outside code: its ``validation_alias`` choices, else ``COMFYFIXER_<NAME>``."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(c for c in alias.choices if isinstance(c, str))
    return (f"COMFYFIXER_{name}",)


def _pick(found: dict[str, Any], case_sensitive: bool) -> dict[str, Any]:
    """``found``'s values keyed by field name: each field takes the first of its names present."""
    keys = found if case_sensitive else {k.lower(): v for k, v in found.items()}
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        candidates = (name, *_names(name)) if case_sensitive else tuple(n.lower() for n in _names(name))
        for n in candidates:
            if n in keys and keys[n] is not None:
                out[name] = keys[n]
                break
    return out


def _sources() -> list[dict[str, Any]]:
    """Values from the environment, ``.env`` and the ``comfyfixer.toml`` files, highest precedence first,
    each keyed by field name. Environment names match without regard to case; TOML keys are field names
    (or a field's alias). A TOML file is read only if it exists, checked on every build, not at import.
    """
    sources = [_pick(dict(os.environ), case_sensitive=False)]
    dotenv, *tomls = settings_files()
    if dotenv.is_file():
        from dotenv import dotenv_values

        sources.append(_pick(dict(dotenv_values(dotenv, encoding="utf-8")), case_sensitive=False))
    for path in tomls:
        if path.is_file():
            import tomllib

            try:
                doc = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read {path}: {exc}", hint=f"fix or remove {path}") from None
            sources.append(_pick(doc, case_sensitive=True))
    return sources
