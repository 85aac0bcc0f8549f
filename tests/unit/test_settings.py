from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from gateway.settings import ConfigError, Settings, attribute_docstrings, load_settings, reference
from tests.conftest import DEMO_KEYS


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def minimal_env(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    clean_env.setenv("GATEWAY_UPSTREAM_BASE_URL", "http://127.0.0.1:9/v1")
    clean_env.setenv("GATEWAY_AUDIT_DIR", str(tmp_path / "audit"))
    clean_env.setenv("GATEWAY_API_KEYS_FILE", str(DEMO_KEYS))
    return clean_env


def test_missing_required_settings_are_all_named(clean_env: pytest.MonkeyPatch) -> None:
    """Every missing required setting is named by its environment variable."""
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    for name in ("GATEWAY_UPSTREAM_BASE_URL", "GATEWAY_AUDIT_DIR", "GATEWAY_API_KEYS_FILE"):
        assert f"{name}: required but not set" in message


def test_valid_environment_builds_settings(minimal_env: pytest.MonkeyPatch) -> None:
    """A complete environment yields typed settings with defaults filled in."""
    settings = load_settings()
    assert str(settings.upstream_base_url) == "http://127.0.0.1:9/v1"
    assert settings.port == 8080
    assert str(settings.opa_url) == "http://127.0.0.1:8181/"


def test_bad_url_names_the_setting(minimal_env: pytest.MonkeyPatch) -> None:
    """A malformed URL is reported against its variable."""
    minimal_env.setenv("GATEWAY_ELASTICSEARCH_URL", "not a url")
    with pytest.raises(ConfigError, match="GATEWAY_ELASTICSEARCH_URL: "):
        load_settings()


def test_bad_port_names_the_setting(minimal_env: pytest.MonkeyPatch) -> None:
    """An out-of-range port is refused with the variable's name."""
    minimal_env.setenv("GATEWAY_PORT", "70000")
    with pytest.raises(ConfigError, match="GATEWAY_PORT: "):
        load_settings()


def test_missing_keys_file_is_refused(minimal_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A keys file that does not exist stops start-up."""
    minimal_env.setenv("GATEWAY_API_KEYS_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"GATEWAY_API_KEYS_FILE: .*file not found"):
        load_settings()


def test_secret_values_are_not_echoed(minimal_env: pytest.MonkeyPatch) -> None:
    """A wrong value is described, never repeated back (it may be a secret)."""
    minimal_env.setenv("GATEWAY_OPA_TIMEOUT_S", "s3cr3t-value")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "s3cr3t-value" not in str(info.value)
    assert "GATEWAY_OPA_TIMEOUT_S" in str(info.value)


def test_toml_file_is_read_and_env_wins(minimal_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GATEWAY_CONFIG_FILE supplies values; the environment overrides them."""
    config = tmp_path / "gateway.toml"
    config.write_text('port = 9000\nopa_url = "http://127.0.0.1:8282"\n')
    minimal_env.setenv("GATEWAY_CONFIG_FILE", str(config))
    minimal_env.setenv("GATEWAY_PORT", "9100")
    settings = load_settings()
    assert settings.port == 9100
    assert str(settings.opa_url) == "http://127.0.0.1:8282/"


def test_yaml_file_unknown_key_is_refused(minimal_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A typo in the config file is an error, not silently ignored."""
    config = tmp_path / "gateway.yaml"
    config.write_text("prot: 9000\n")
    minimal_env.setenv("GATEWAY_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="GATEWAY_PROT: unknown setting"):
        load_settings()


def test_config_file_with_wrong_suffix(minimal_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only TOML and YAML config files are accepted."""
    config = tmp_path / "gateway.ini"
    config.write_text("")
    minimal_env.setenv("GATEWAY_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="GATEWAY_CONFIG_FILE"):
        load_settings()


def test_prompt_storage_requires_a_key(minimal_env: pytest.MonkeyPatch) -> None:
    """Storing prompts without an encryption key is refused, naming both settings."""
    minimal_env.setenv("GATEWAY_AUDIT_STORE_PROMPTS", "true")
    with pytest.raises(ConfigError, match="GATEWAY_AUDIT_STORE_PROMPTS needs GATEWAY_AUDIT_ENC"):
        load_settings()


def test_bad_encryption_key_is_refused_without_echo(minimal_env: pytest.MonkeyPatch) -> None:
    """An encryption key that is not a Fernet key is named, never repeated back."""
    minimal_env.setenv("GATEWAY_AUDIT_ENCRYPTION_KEY", "hunter2-not-a-key")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "GATEWAY_AUDIT_ENCRYPTION_KEY" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_settings_are_frozen(minimal_env: pytest.MonkeyPatch) -> None:
    """Settings cannot change after start-up."""
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


def test_reference_documents_every_setting() -> None:
    """Each setting has a description for the configuration reference."""
    rows = reference()
    assert len(rows) > 10
    assert all(description for _, _, description in rows)


class _Documented(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    plain: int = 1
    """One line."""
    indented: str = Field(default="x")
    """First line.

        Indented continuation, cleaned as pydantic cleans it."""
    undocumented: bool = False


def test_attribute_docstrings_read_as_pydantic_reads_them() -> None:
    """``reference`` reads each setting's docstring itself (pydantic would parse the source
    at every start-up); on a model that asks pydantic to, both give the same text."""
    from_pydantic = {
        name: field.description
        for name, field in _Documented.model_fields.items()
        if field.description
    }
    assert attribute_docstrings(_Documented) == from_pydantic
    assert set(from_pydantic) >= {"plain", "indented"}


def test_settings_import_reads_no_source() -> None:
    """Importing the settings leaves every field without a description: the source is
    parsed only when the reference is asked for."""
    assert all(field.description is None for field in Settings.model_fields.values())
