"""Where the endpoint, the token and the connection settings come from.

Each setting is taken from the first place that gives it: an explicit argument, then the
``DATAROBOT_ENDPOINT`` / ``DATAROBOT_API_TOKEN`` / ``DATAROBOT_SSL_VERIFY`` environment variables,
then the YAML file named by ``DATAROBOT_CONFIG_FILE``, then ``~/.config/datarobot/drconfig.yaml``.
Endpoint and token are taken as a pair from one place (unless one is an explicit argument), so
the token is never sent to an endpoint that was configured somewhere else.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from dr_notebook.errors import ConfigurationError

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "Secret",
    "Settings",
    "normalize_endpoint",
    "resolve_settings",
]

DEFAULT_CONFIG_PATH = Path("~/.config/datarobot/drconfig.yaml")
DEFAULT_CONNECT_TIMEOUT = 6.05
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_UPLOAD_TIMEOUT = 600.0
DEFAULT_MAX_RETRIES = 5

ENV_ENDPOINT = "DATAROBOT_ENDPOINT"
ENV_TOKEN = "DATAROBOT_API_TOKEN"
ENV_SSL_VERIFY = "DATAROBOT_SSL_VERIFY"
ENV_CONFIG_FILE = "DATAROBOT_CONFIG_FILE"

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}

HOW_TO_CONFIGURE = (
    "pass endpoint= and token= to Client(), or set DATAROBOT_ENDPOINT and "
    "DATAROBOT_API_TOKEN, or write them to ~/.config/datarobot/drconfig.yaml "
    "(or the file DATAROBOT_CONFIG_FILE names)"
)


class Secret:
    """A string that does not show itself: ``repr`` and ``str`` are redacted.

    Read the value with :meth:`get_secret_value`, only where it is sent.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.get_secret_value()
        self._value = str(value)

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __format__(self, spec: str) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings; ``source`` says where endpoint and token came from."""

    endpoint: str
    token: Secret = field(repr=False)
    ssl_verify: bool | str = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    upload_timeout: float = DEFAULT_UPLOAD_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    source: str = "arguments"
    #: The endpoint was given without ``http://`` or ``https://``: ``https://`` was assumed.
    scheme_assumed: bool = False


def normalize_endpoint(endpoint: str) -> str:
    """``https://host``, ``https://host/`` or ``https://host/api/v2/`` as ``https://host/api/v2``.

    A bare host name gets ``https://``. The result never ends with a slash.
    """
    text = str(endpoint).strip()
    if not text:
        raise ConfigurationError(f"The endpoint is empty: {HOW_TO_CONFIGURE}.")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"The endpoint {endpoint!r} is not an http(s) URL; give one like "
            "'https://app.datarobot.com/api/v2'."
        )
    if "@" in parts.netloc:
        raise ConfigurationError(
            "The endpoint must not carry credentials in the URL; pass token= instead."
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path += "/v2"
    elif not path.endswith("/api/v2"):
        path += "/api/v2"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _parse_ssl_verify(value: Any, where: str) -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    path = Path(text).expanduser()
    if not path.exists():
        raise ConfigurationError(
            f"{where} is {text!r}: not true/false and no CA bundle at that path; "
            "give true, false or the path of a CA bundle file."
        )
    return str(path)


def _parse_number(value: Any, where: str, kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where} must be a number, not {value!r}.") from None
    if number < 0:
        raise ConfigurationError(f"{where} must not be negative, not {value!r}.")
    return number


def _parse_seconds(value: Any, where: str) -> float:
    """A timeout: a positive, finite number of seconds (0, NaN and infinity cannot work)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where} must be a number, not {value!r}.") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            f"{where} must be a positive, finite number of seconds, not {value!r}."
        )
    return seconds


def _read_config_file(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``, its token wrapped in :class:`Secret`."""
    problem = None
    data: Any = None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problem = f"Cannot read the config file {path}: {exc.strerror}."
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = f"The config file {path} is not valid YAML{where}; fix it or remove it."
    if problem is None and data is not None and not isinstance(data, Mapping):
        data = None
        problem = f"The config file {path} must hold a YAML mapping with keys endpoint and token."
    if problem is not None:
        # Raised outside the except blocks: the file's text stays out of any traceback.
        raise ConfigurationError(problem)
    values = dict(data or {})
    if values.get("token") is not None:
        values["token"] = Secret(str(values["token"]))
    return values


def _environment(environ: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
    """The settings the environment gives (the token already wrapped), and the named file."""
    env: dict[str, Any] = {}
    if environ.get(ENV_ENDPOINT):
        env["endpoint"] = environ[ENV_ENDPOINT]
    if environ.get(ENV_TOKEN):
        env["token"] = Secret(environ[ENV_TOKEN])
    if environ.get(ENV_SSL_VERIFY):
        env["ssl_verify"] = environ[ENV_SSL_VERIFY]
    return env, environ.get(ENV_CONFIG_FILE) or None


def _sources(
    env: dict[str, Any], named: str | None, home: Path | None
) -> list[tuple[str, dict[str, Any]]]:
    """The non-argument places settings may come from, first one wins.

    Tokens are wrapped in :class:`Secret` as soon as they are read, so no frame of a traceback
    raised from here on holds one in clear.
    """
    sources: list[tuple[str, dict[str, Any]]] = [("the environment", env)]
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f"{ENV_CONFIG_FILE} names {path}, which does not exist; fix or unset it."
            )
        sources.append((str(path), _read_config_file(path)))

    default = (home / ".config/datarobot/drconfig.yaml") if home else None
    if default is None:
        default = DEFAULT_CONFIG_PATH.expanduser()
    if default.is_file():
        sources.append((str(default), _read_config_file(default)))
    return sources


def _pair(sources: list[tuple[str, dict[str, Any]]]) -> tuple[Any, str, Any, str]:
    """Endpoint and token from the first source that gives either; it must give both.

    A token is sent only to the endpoint configured next to it: an endpoint from one place with
    a token from another could send the token to a host it was never meant for.
    """
    for name, values in sources:
        endpoint, token = values.get("endpoint") or None, values.get("token") or None
        if endpoint is None and token is None:
            continue
        if endpoint is not None and token is not None:
            return endpoint, name, token, name
        given, missing = ("endpoint", "token") if token is None else ("token", "endpoint")
        elsewhere = [other for other, more in sources if more.get(missing)]
        if not elsewhere:
            return endpoint, name, token, name  # the caller names what is missing
        raise ConfigurationError(
            f"The DataRobot {given} comes from {name} but the {missing} only from "
            f"{elsewhere[0]}; endpoint and token must come from the same place: set both "
            f"there, or pass endpoint= and token= to Client()."
        )
    return None, "", None, ""


def resolve_settings(
    endpoint: str | None = None,
    token: str | Secret | None = None,
    *,
    ssl_verify: bool | str | None = None,
    request_timeout: float | tuple[float, float] | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Settings:
    """Resolve the settings (arguments > environment > config files).

    Endpoint and token come from the same place: both from the environment, or both from one
    config file. Only an explicit ``endpoint`` or ``token`` argument may pair with the other
    found elsewhere.

    ``request_timeout`` is the read timeout of each request in seconds, or a ``(connect, read)``
    pair.
    ``environ`` and ``home`` default to ``os.environ`` and the user's home directory.
    """
    if token is not None:
        token = Secret(token)
    # os.environ is never bound to a local here: a traceback with locals would print it.
    sources = _sources(*_environment(os.environ if environ is None else environ), home)

    def pick(key: str, given: Any) -> tuple[Any, str]:
        if given is not None:
            return given, "arguments"
        for name, values in sources:
            value = values.get(key)
            if value is not None and value != "":
                return value, name
        return None, ""

    if endpoint is None and token is None:
        raw_endpoint, endpoint_from, raw_token, token_from = _pair(sources)
    else:
        raw_endpoint, endpoint_from = pick("endpoint", endpoint)
        raw_token, token_from = pick("token", token)
    if raw_endpoint is None or raw_token is None:
        missing = " and ".join(
            name
            for name, value in (("endpoint", raw_endpoint), ("token", raw_token))
            if value is None
        )
        raise ConfigurationError(f"No DataRobot {missing} found: {HOW_TO_CONFIGURE}.")

    raw_ssl, ssl_from = pick("ssl_verify", ssl_verify)
    verify = True if raw_ssl is None else _parse_ssl_verify(raw_ssl, f"ssl_verify ({ssl_from})")

    connect_timeout = DEFAULT_CONNECT_TIMEOUT
    raw_connect, connect_from = pick("connect_timeout", None)
    if raw_connect is not None:
        connect_timeout = _parse_seconds(raw_connect, f"connect_timeout ({connect_from})")
    read_timeout = DEFAULT_READ_TIMEOUT
    if isinstance(request_timeout, (tuple, list)):
        if len(request_timeout) != 2:
            raise ConfigurationError("request_timeout must be seconds or a (connect, read) pair.")
        connect_timeout = _parse_seconds(request_timeout[0], "request_timeout[0]")
        read_timeout = _parse_seconds(request_timeout[1], "request_timeout[1]")
    elif request_timeout is not None:
        read_timeout = _parse_seconds(request_timeout, "request_timeout")

    max_retries = DEFAULT_MAX_RETRIES
    raw_retries, retries_from = pick("max_retries", None)
    if raw_retries is not None:
        max_retries = _parse_number(raw_retries, f"max_retries ({retries_from})", int)

    secret = Secret(Secret(raw_token).get_secret_value().strip())
    if not secret:
        raise ConfigurationError(f"The DataRobot token is empty: {HOW_TO_CONFIGURE}.")
    source = endpoint_from if endpoint_from == token_from else f"{endpoint_from}, {token_from}"
    return Settings(
        endpoint=normalize_endpoint(raw_endpoint),
        scheme_assumed="://" not in str(raw_endpoint),
        token=secret,
        ssl_verify=verify,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        upload_timeout=max(DEFAULT_UPLOAD_TIMEOUT, read_timeout),
        max_retries=max_retries,
        source=source,
    )
