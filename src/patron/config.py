"""Settings: the only place that reads the environment.

Every setting is an environment variable named `PATRON_` and the field's name in capitals
(`pool_max_size` is PATRON_POOL_MAX_SIZE); an empty variable counts as unset. They are read and
checked by pydantic-settings; a value that does not fit ends in `ConfigError`, one line naming
the variable, the value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

MAX_BODY_BYTES = 10 * 1024 * 1024
# CSV imports stream to disk, so they may be far larger than JSON bodies.
MAX_IMPORT_BYTES = 2 * 1024 * 1024 * 1024

ENV_PREFIX = "PATRON_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MASK = "***"


def cores() -> int:
    """The CPU cores this process may run on (its affinity, which containers narrow), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class ConfigError(ValueError):
    """A setting's value that Patron cannot use; its message is one line for the operator."""


# What each kind of value allows, in the words of the one-line error.
_WHOLE_NUMBER = "a whole number"
_SECONDS = "a number of seconds"
_SWITCH = "true or false (1/0, yes/no, on/off)"

PositiveInt = Annotated[int, Field(ge=1)]
PositiveSeconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """Everything Patron can be configured with, read once from the environment.

    Built by keyword (`Settings(pool_max_size=5)`), it reads nothing: only `from_env` does.
    Frozen; a changed copy is `settings.model_copy(update={...})`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_default=False,
    )

    database_url: Annotated[str | None, Field(description="a postgresql:// URL")] = None
    data_dir: Annotated[Path, Field(description="a folder")] = Path(".patron")
    app_id: str | None = None
    app_token: str | None = None
    pool_min_size: Annotated[int, Field(ge=0, description="a whole number, 0 or more")] = 2
    pool_max_size: Annotated[int, Field(ge=1, description="a whole number, 1 or more")] = 20
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        Field(description="one of " + ", ".join(LOG_LEVELS)),
    ] = "INFO"
    # How every log line is written: `text` for people, `json` (one object a line) for log
    # shippers (kit/logs.py).
    log_format: Annotated[Literal["text", "json"], Field(description="text or json")] = "text"
    # A line per request (method, route template, status, duration, request id) at INFO;
    # otherwise only refused and failed requests are logged (kit/asgi.py).
    access_log: bool = False
    # The proxies whose X-Forwarded-For / X-Forwarded-Proto uvicorn believes: comma-separated
    # addresses or networks, or `*` for any.
    trusted_proxies: Annotated[
        str, Field(description="comma-separated IP addresses or networks, or *")
    ] = "127.0.0.1"
    # Server processes of `patron serve`; None: one per core (`cores()`).
    workers: Annotated[int | None, Field(ge=1, description="a whole number, 1 or more")] = None
    # Whether each server process also carries out async actions (`patron worker`'s work).
    worker: bool = True
    worker_poll_seconds: PositiveSeconds = 1.0
    segments_refresh_seconds: PositiveSeconds = 600.0
    worker_batch_size: PositiveInt = 5000
    allow_unsafe_durability: bool = False
    client_rate_limit: PositiveInt = 5
    client_rate_seconds: PositiveSeconds = 5.0
    # Where clients reach this server (`https://vouchers.example`, no trailing slash), for the
    # URLs Patron hands out (vouchers' QR codes and barcodes); None: each request's own scheme
    # and Host header (`patron.kit.http.base_url`).
    public_url: Annotated[str | None, Field(description="an http:// or https:// URL")] = None
    # `GET /metrics` in Prometheus's text format (kit/metrics.py): `off` (404), `open` (no
    # credentials: for an API port that only the scraper reaches), `token` (an
    # `Authorization: Bearer` header carrying PATRON_METRICS_TOKEN, else 401), or `port` (on
    # PATRON_METRICS_HOST:PATRON_METRICS_PORT only, without credentials; 404 on the API port).
    metrics: Annotated[
        Literal["off", "open", "token", "port"], Field(description="off, open, token or port")
    ] = "off"
    metrics_token: Annotated[
        str | None, Field(min_length=16, description="text of 16 characters or more")
    ] = None
    metrics_host: Annotated[str, Field(min_length=1, description="a host name or IP address")] = (
        "127.0.0.1"
    )
    metrics_port: Annotated[
        int | None, Field(ge=1, le=65535, description="a port number, 1 to 65535")
    ] = None

    # How long a POST retried with the `Idempotency-Key` of a request still running waits for
    # that request's answer before it is refused with 409 `idempotency_key_in_use`
    # (patron.idempotency).
    idempotency_wait_seconds: PositiveSeconds = 5.0

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", "metrics", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """Without its trailing slashes; an http(s) URL only."""
        if value is None:
            return None
        url = value.strip().rstrip("/")
        scheme, separator, rest = url.partition("://")
        if scheme.lower() not in ("http", "https") or not separator or not rest:
            raise ValueError("not an http(s) URL")
        return url

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("postgresql", "postgres"):
            raise ValueError("not a postgresql:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)  # ValueError when it is none
        return ",".join(entries)

    @model_validator(mode="after")
    def _metrics_token(self) -> Settings:
        if self.metrics == "token" and self.metrics_token is None:
            raise ValueError("PATRON_METRICS=token needs PATRON_METRICS_TOKEN to be set")
        if self.metrics == "port" and self.metrics_port is None:
            raise ValueError("PATRON_METRICS=port needs PATRON_METRICS_PORT to be set")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword construction is explicit (tests, benches): the environment is read by
        # `from_env` alone, which passes what it read as keywords.
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ` (the process's environment when None); ConfigError for a
        value that does not fit."""
        source = _Environment(cls, os.environ if environ is None else environ)
        values = source()
        try:
            return cls(**values)
        except ValidationError as exc:
            raise _config_error(exc, values) from None


class _Environment(EnvSettingsSource):
    """pydantic-settings' reading of environment variables, from a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            name.lower(): value
            for name, value in self._environ.items()
            if name.upper().startswith(ENV_PREFIX) and value != ""
        }


def env_name(field: str) -> str:
    """The environment variable of a setting: `pool_max_size` -> PATRON_POOL_MAX_SIZE."""
    return ENV_PREFIX + field.upper()


def _config_error(exc: ValidationError, values: Mapping[str, Any]) -> ConfigError:
    """The first refused value, in one line: the variable, the value (secrets masked) and what
    is allowed."""
    error = exc.errors(include_url=False)[0]
    if not error["loc"]:  # a rule between settings: its own message names them
        return ConfigError(str(error.get("ctx", {}).get("error") or error["msg"]))
    field = str(error["loc"][0]) if error["loc"] else ""
    value = values.get(field, error.get("input"))
    shown = _masked(field, value) if isinstance(value, str) else repr(value)
    return ConfigError(f"{env_name(field)}={shown!r} is not allowed: expected {_allowed(field)}")


def _allowed(field: str) -> str:
    info = Settings.model_fields[field]
    if info.description:
        return info.description
    annotation = info.annotation
    if annotation is bool:
        return _SWITCH
    if annotation is float:
        return _SECONDS + ", more than 0"
    if annotation is int:
        return _WHOLE_NUMBER + ", 1 or more"
    return "text"


# Settings whose whole value is a secret, and those holding one inside (a URL's password).
_SECRET = frozenset({"app_token", "metrics_token"})
_HOLDS_SECRET = frozenset({"database_url"})


def _masked(field: str, value: str) -> str:
    if field in _SECRET:
        return MASK
    if field in _HOLDS_SECRET:
        return mask_url(value)
    return value


def mask_url(url: str) -> str:
    """`url` with its password (in the authority or a `password=` parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK  # not a URL that can be taken apart: nothing of it is shown
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() == "password" for name, _ in pairs):
            query = urlencode(
                [(name, MASK if name.lower() == "password" else v) for name, v in pairs],
                safe="*",
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Each effective setting as (environment variable, value), in declaration order, with
    secrets masked (`patron config`). An unset optional setting reads `(unset)`."""
    rows: list[tuple[str, str]] = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if value is None:
            shown = "(unset)"
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        else:
            shown = _masked(field, str(value))
        rows.append((env_name(field), shown))
    return rows
