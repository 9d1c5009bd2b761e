"""Settings precedence and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from comfyfixer.agent.config import load_settings
from comfyfixer.tools.errors import ConfigError


def test_precedence_init_env_dotenv_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comfyfixer.toml").write_text('llm_model = "from-toml"\nllm_max_rounds = 3\nhttp_timeout = 9\n')
    (tmp_path / ".env").write_text("COMFYFIXER_LLM_MAX_ROUNDS=4\nCOMFYFIXER_HTTP_TIMEOUT=11\n")
    monkeypatch.setenv("COMFYFIXER_HTTP_TIMEOUT", "12")
    s = load_settings()
    assert s.llm_model == "from-toml"  # only in the toml
    assert s.llm_max_rounds == 4  # .env beats the toml
    assert s.http_timeout == 12  # the environment beats .env
    assert load_settings(http_timeout=5).http_timeout == 5  # explicit values win


def test_user_config_dir_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "comfyfixer.toml").write_text('llm_model = "from-home"\n')
    monkeypatch.setenv("COMFYFIXER_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert load_settings().llm_model == "from-home"


def test_well_known_token_names_and_secrecy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", "civ-secret-123")
    monkeypatch.setenv("HF_TOKEN", "hf-secret-456")
    s = load_settings()
    assert s.secret("civitai_token") == "civ-secret-123"
    assert s.secret("hf_token") == "hf-secret-456"
    dumped = repr(s) + s.model_dump_json()
    assert "civ-secret-123" not in dumped and "hf-secret-456" not in dumped


def test_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_ALLOWED_HOSTS", "127.0.0.1, mirror.local")
    assert load_settings().allowed_hosts == ["127.0.0.1", "mirror.local"]


def test_invalid_values_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMFYFIXER_LLM_BASE_URL", "localhost:11434")
    with pytest.raises(ConfigError, match="llm_base_url"):
        load_settings()
    monkeypatch.delenv("COMFYFIXER_LLM_BASE_URL")
    monkeypatch.setenv("COMFYFIXER_HTTP_TIMEOUT", "-1")
    with pytest.raises(ConfigError, match="http_timeout"):
        load_settings()
