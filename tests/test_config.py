"""Where endpoint, token and settings come from, and how the token stays hidden."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from dr_notebook.config import Secret, normalize_endpoint, resolve_settings
from dr_notebook.errors import ConfigurationError

TOKEN = "tok-ABCDEF0123456789"


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory: no drconfig.yaml unless a test writes one."""
    return tmp_path / "home"


@pytest.mark.parametrize(
    "given",
    [
        "https://app.example.com",
        "https://app.example.com/",
        "https://app.example.com/api/v2",
        "https://app.example.com/api/v2/",
        "https://app.example.com/api",
        "  https://app.example.com/api/v2//  ",
        "app.example.com",
    ],
)
def test_endpoint_forms_normalise_to_api_v2(given: str) -> None:
    assert normalize_endpoint(given) == "https://app.example.com/api/v2"


def test_endpoint_keeps_port_and_path_prefix() -> None:
    assert normalize_endpoint("http://127.0.0.1:8080") == "http://127.0.0.1:8080/api/v2"
    assert normalize_endpoint("https://h/datarobot/api/v2/") == "https://h/datarobot/api/v2"


@pytest.mark.parametrize("bad", ["", "ftp://host/api/v2", "https://user:pw@host"])
def test_bad_endpoints_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        normalize_endpoint(bad)


def test_nothing_configured_names_the_three_ways(home: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_settings(environ={}, home=home)
    text = str(info.value)
    assert "endpoint= and token=" in text
    assert "DATAROBOT_ENDPOINT" in text and "DATAROBOT_API_TOKEN" in text
    assert "drconfig.yaml" in text
    assert "\n" not in text


def test_only_the_missing_part_is_named(home: Path) -> None:
    with pytest.raises(ConfigurationError, match="No DataRobot token found"):
        resolve_settings(environ={"DATAROBOT_ENDPOINT": "https://h"}, home=home)


def test_arguments_beat_environment_and_files(home: Path) -> None:
    write_config(home / ".config/datarobot/drconfig.yaml", "endpoint: https://file\ntoken: f\n")
    env = {"DATAROBOT_ENDPOINT": "https://env", "DATAROBOT_API_TOKEN": "e"}
    settings = resolve_settings("https://arg", "a", environ=env, home=home)
    assert settings.endpoint == "https://arg/api/v2"
    assert settings.token.get_secret_value() == "a"
    assert settings.source == "arguments"


def test_environment_beats_config_files(home: Path, tmp_path: Path) -> None:
    named = write_config(tmp_path / "named.yaml", "endpoint: https://named\ntoken: n\n")
    write_config(home / ".config/datarobot/drconfig.yaml", "endpoint: https://file\ntoken: f\n")
    env = {
        "DATAROBOT_ENDPOINT": "https://env/api/v2/",
        "DATAROBOT_API_TOKEN": " e \n",
        "DATAROBOT_CONFIG_FILE": str(named),
    }
    settings = resolve_settings(environ=env, home=home)
    assert settings.endpoint == "https://env/api/v2"
    assert settings.token.get_secret_value() == "e"
    assert settings.source == "the environment"


def test_named_config_file_beats_default_file(home: Path, tmp_path: Path) -> None:
    named = write_config(
        tmp_path / "named.yaml",
        "endpoint: https://named\ntoken: n\nssl_verify: false\n"
        "connect_timeout: 2\nmax_retries: 1\n",
    )
    write_config(home / ".config/datarobot/drconfig.yaml", "endpoint: https://file\ntoken: f\n")
    settings = resolve_settings(environ={"DATAROBOT_CONFIG_FILE": str(named)}, home=home)
    assert settings.endpoint == "https://named/api/v2"
    assert settings.token.get_secret_value() == "n"
    assert settings.ssl_verify is False
    assert settings.connect_timeout == 2.0
    assert settings.max_retries == 1
    assert settings.source == str(named)


def test_default_config_file_is_read(home: Path) -> None:
    write_config(home / ".config/datarobot/drconfig.yaml", "endpoint: https://file\ntoken: f\n")
    settings = resolve_settings(environ={}, home=home)
    assert settings.endpoint == "https://file/api/v2"
    assert settings.token.get_secret_value() == "f"


def test_missing_named_config_file_is_reported(home: Path, tmp_path: Path) -> None:
    env = {"DATAROBOT_CONFIG_FILE": str(tmp_path / "nope.yaml")}
    with pytest.raises(ConfigurationError, match=r"DATAROBOT_CONFIG_FILE names .*nope\.yaml"):
        resolve_settings(environ=env, home=home)


def test_invalid_yaml_is_reported_without_its_content(home: Path) -> None:
    write_config(home / ".config/datarobot/drconfig.yaml", f"token: {TOKEN}\nendpoint: [oops\n")
    with pytest.raises(ConfigurationError, match="not valid YAML") as info:
        resolve_settings(environ={}, home=home)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("raw", "expected"), [("false", False), ("0", False), ("TRUE", True), ("yes", True)]
)
def test_ssl_verify_from_environment(home: Path, raw: str, expected: bool) -> None:
    env = {"DATAROBOT_ENDPOINT": "h", "DATAROBOT_API_TOKEN": "t", "DATAROBOT_SSL_VERIFY": raw}
    assert resolve_settings(environ=env, home=home).ssl_verify is expected


def test_ssl_verify_may_be_a_ca_bundle_path(home: Path, tmp_path: Path) -> None:
    bundle = write_config(tmp_path / "ca.pem", "-----BEGIN CERTIFICATE-----\n")
    env = {
        "DATAROBOT_ENDPOINT": "h",
        "DATAROBOT_API_TOKEN": "t",
        "DATAROBOT_SSL_VERIFY": str(bundle),
    }
    assert resolve_settings(environ=env, home=home).ssl_verify == str(bundle)
    env["DATAROBOT_SSL_VERIFY"] = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigurationError, match="CA bundle"):
        resolve_settings(environ=env, home=home)


def test_request_timeout_argument_forms(home: Path) -> None:
    settings = resolve_settings("h", "t", request_timeout=5, environ={}, home=home)
    assert settings.read_timeout == 5.0
    assert settings.upload_timeout >= settings.read_timeout
    settings = resolve_settings("h", "t", request_timeout=(1, 2), environ={}, home=home)
    assert (settings.connect_timeout, settings.read_timeout) == (1.0, 2.0)
    with pytest.raises(ConfigurationError):
        resolve_settings("h", "t", request_timeout="soon", environ={}, home=home)  # pyright: ignore[reportArgumentType]  # a wrong type on purpose


def test_blank_token_is_rejected(home: Path) -> None:
    with pytest.raises(ConfigurationError, match="token is empty"):
        resolve_settings("h", "   ", environ={}, home=home)


def test_secret_never_shows_its_value() -> None:
    secret = Secret(TOKEN)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "{}".format(secret)):  # noqa: UP032
        assert TOKEN not in text
    assert secret.get_secret_value() == TOKEN
    assert Secret(secret).get_secret_value() == TOKEN
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_settings_repr_hides_the_token(home: Path) -> None:
    settings = resolve_settings("h", TOKEN, environ={}, home=home)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)


def test_endpoint_from_environment_never_pairs_with_a_file_token(home: Path) -> None:
    write_config(
        home / ".config/datarobot/drconfig.yaml", f"endpoint: https://file\ntoken: {TOKEN}\n"
    )
    env = {"DATAROBOT_ENDPOINT": "http://evil.example"}
    with pytest.raises(ConfigurationError, match="same place") as info:
        resolve_settings(environ=env, home=home)
    text = str(info.value)
    assert "the environment" in text and "drconfig.yaml" in text
    assert "endpoint= and token=" in text and "\n" not in text
    assert TOKEN not in text


def test_token_from_environment_never_pairs_with_a_file_endpoint(
    home: Path, tmp_path: Path
) -> None:
    named = write_config(tmp_path / "named.yaml", "endpoint: https://named\n")
    env = {"DATAROBOT_API_TOKEN": TOKEN, "DATAROBOT_CONFIG_FILE": str(named)}
    with pytest.raises(ConfigurationError, match="token comes from the environment"):
        resolve_settings(environ=env, home=home)


def test_named_file_endpoint_never_pairs_with_default_file_token(
    home: Path, tmp_path: Path
) -> None:
    named = write_config(tmp_path / "named.yaml", "endpoint: https://named\nssl_verify: false\n")
    write_config(home / ".config/datarobot/drconfig.yaml", "endpoint: https://file\ntoken: f\n")
    with pytest.raises(ConfigurationError, match="same place"):
        resolve_settings(environ={"DATAROBOT_CONFIG_FILE": str(named)}, home=home)


def test_explicit_argument_pairs_with_the_other_from_anywhere(home: Path) -> None:
    write_config(home / ".config/datarobot/drconfig.yaml", "endpoint: https://file\ntoken: f\n")
    env = {"DATAROBOT_ENDPOINT": "https://env"}
    settings = resolve_settings(token="a", environ=env, home=home)
    assert settings.endpoint == "https://env/api/v2"
    assert settings.source == "the environment, arguments"
    settings = resolve_settings("https://arg", environ=env, home=home)
    assert settings.endpoint == "https://arg/api/v2"
    assert settings.token.get_secret_value() == "f"


def test_other_settings_still_come_from_any_source(home: Path) -> None:
    write_config(home / ".config/datarobot/drconfig.yaml", "ssl_verify: false\nmax_retries: 2\n")
    env = {"DATAROBOT_ENDPOINT": "https://env", "DATAROBOT_API_TOKEN": "e"}
    settings = resolve_settings(environ=env, home=home)
    assert settings.source == "the environment"
    assert settings.ssl_verify is False and settings.max_retries == 2
