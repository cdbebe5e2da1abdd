"""The operator's settings: environment variables with the prefix ``SMC_OPERATOR_``.

The README's settings table is the contract. :func:`load_settings` is the one way in: it validates
everything at start-up and turns pydantic's report into :class:`SettingsError`, whose message names
each offending variable, so an operator with a bad setting stops at once with one clear line.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import Field, FilePath, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from smc_operator import wire

ENV_PREFIX: Final = "SMC_OPERATOR_"
DEFAULT_ENDPOINT: Final = "smc.aliyuncs.com"
DEFAULT_REGION: Final = "cn-hangzhou"

Port = Annotated[int, Field(ge=0, le=65535)]


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class SettingsError(ValueError):
    """Invalid settings; the message names every offending environment variable."""


@dataclass(frozen=True)
class Endpoint:
    """Where SMC is: the SDK's ``endpoint`` (host[:port]) and ``protocol`` (``https``/``http``)."""

    host: str
    protocol: str

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_endpoint(raw: str) -> Endpoint:
    """Parse ``smc.aliyuncs.com``, ``https://host[:port]`` or ``http://127.0.0.1:9090``.

    A bare host means HTTPS. Plain HTTP is refused unless the host is loopback: requests carry
    signatures and, with STS, security tokens, which must not cross a network in clear text.
    """
    text = raw.strip()
    if not text:
        raise ValueError("must not be empty")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            f"scheme must be https (or http for a loopback emulator), not {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            "must be a bare host[:port] or scheme://host[:port], with no path or query"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from None
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"plain http is only allowed to a loopback host (127.0.0.1, ::1, localhost), "
            f"not {parts.hostname!r}; use https://{parts.netloc}"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port is not None else host
    return Endpoint(host=netloc, protocol=parts.scheme)


class Settings(BaseSettings):
    """Typed, validated settings. Build with :func:`load_settings`, not directly."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    endpoint: str = Field(
        default=DEFAULT_ENDPOINT,
        description="SMC endpoint: a host (HTTPS) or a URL; plain http only to loopback.",
    )
    region: str = Field(
        default=DEFAULT_REGION,
        pattern=wire.REGION_ID_PATTERN,
        max_length=wire.REGION_ID_MAX_LENGTH,
        description="Region used when a ReplicationJob has no spec.regionId.",
    )
    max_attempts: int = Field(
        default=10, ge=1, le=1000, description="StartReplicationJob calls per start request."
    )
    backoff_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    qps: float = Field(
        default=5.0, ge=0, le=10000, description="Client-side SMC call rate; 0 means unlimited."
    )
    poll_interval_seconds: float = Field(
        default=60.0, ge=0, le=86400, description="DescribeReplicationJobs refresh; 0 disables."
    )
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    ca_file: FilePath | None = Field(
        default=None,
        description="Extra CA bundle (PEM) trusted for SMC, beside the system store and certifi.",
    )
    metrics_port: Port = 8080
    health_port: Port = 8081
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.TEXT

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_safe(cls, value: str) -> str:
        parse_endpoint(value)  # raises ValueError with the reason
        return value.strip()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("backoff_max_seconds")
    @classmethod
    def _cap_not_below_base(cls, value: float, info: object) -> float:
        base = getattr(info, "data", {}).get("backoff_base_seconds")
        if base is not None and value < base:
            raise ValueError(f"must be at least SMC_OPERATOR_BACKOFF_BASE_SECONDS ({base:g})")
        return value

    @property
    def smc_endpoint(self) -> Endpoint:
        return parse_endpoint(self.endpoint)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings, from ``environ`` if given, else the process environment.

    Raises :class:`SettingsError` naming each invalid variable and why.
    """
    source = os.environ if environ is None else environ
    try:
        known = {
            name.removeprefix(ENV_PREFIX).lower(): value
            for name, value in source.items()
            if name.upper().startswith(ENV_PREFIX)
        }
        fields = {name: known[name] for name in Settings.model_fields if name in known}
        return Settings.model_validate(fields)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{ENV_PREFIX}{field.upper()}: {message}")
    return "invalid settings: " + "; ".join(lines)
