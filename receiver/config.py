"""Reads and checks the receiver's settings from the environment, once."""

import os
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable to fix."""


@dataclass(frozen=True)
class Settings:
    """Every knob the receiver reads, with the defaults DESIGN.md documents."""

    tokens: tuple[str, ...]
    database_url: str
    adapters: tuple[str, ...] = ()
    jsonl_path: str | None = None
    http_url: str | None = None
    http_secret: str | None = None
    http_timeout: float = 10.0
    max_body_bytes: int = 10 * MIB
    lease_seconds: float = 30.0
    retry_horizon_seconds: float = 3 * 24 * 3600.0
    store_timeout_seconds: float = 3.0
    metrics_token: str | None = None
    # The whole environment, for adapters that read their own variables (RECEIVER_HUBSPOT_...).
    environ: Mapping = field(default_factory=dict, repr=False, compare=False)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def read_number(environ, name: str, default: float, kind=float) -> float:
    """A positive number from `environ[name]`, or `default` when unset."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def read_flag(environ, name: str) -> bool:
    """A yes/no setting: 1, true, yes or on mean yes; unset means no."""
    raw = (environ.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, got {environ.get(name)!r}")


def read_mapping(environ, name: str) -> dict[str, str]:
    """`a=b,c=d` pairs from `environ[name]`, as a dict; unset means empty."""
    pairs = {}
    for part in _split(environ.get(name)):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{name} must be comma-separated source=target pairs, got {part!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def normalize_database_url(url: str) -> str:
    """Point PostgreSQL URLs, including Heroku's `postgres://`, at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


DATABASE_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://", "sqlite://")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")


def read_database_url(environ, instance_path: str) -> str:
    """DATABASE_URL for the psycopg 3 driver, or the embedded default; other databases refused."""
    url = environ.get("DATABASE_URL") or default_database_url(instance_path)
    if not url.startswith(DATABASE_SCHEMES):
        scheme = url.split(":", 1)[0]
        raise ConfigError(f"DATABASE_URL must be a postgresql:// (or postgres://) or sqlite:/// "
                          f"URL; {scheme!r} is not a database the receiver can use")
    return normalize_database_url(url)


def read_choice(environ, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of `choices` from `environ[name]` (any case), or `default` when unset."""
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")


def default_database_url(instance_path: str) -> str:
    """The embedded default: one SQLite file in the app's instance folder."""
    return f"sqlite:///{Path(instance_path) / 'receiver.sqlite3'}"


def load_settings(environ=None, *, instance_path: str = "instance",
                  for_commands: bool = False) -> Settings:
    """Build Settings from the environment, or raise ConfigError naming the variable.

    `for_commands`: for inspection and repair commands, which need only the database; the
    webhook token and the adapters' settings are checked by `check_serving` when a command
    serves or delivers.
    """
    environ = os.environ if environ is None else environ
    tokens = _split(environ.get("ROCKETCHAT_LIVECHAT_TOKEN"))
    adapters = _split(environ.get("RECEIVER_ADAPTERS"))
    settings = Settings(
        tokens=tokens,
        database_url=read_database_url(environ, instance_path),
        adapters=adapters,
        jsonl_path=environ.get("RECEIVER_JSONL_PATH") or None,
        http_url=environ.get("RECEIVER_HTTP_URL") or None,
        http_secret=environ.get("RECEIVER_HTTP_SECRET") or None,
        http_timeout=read_number(environ, "RECEIVER_HTTP_TIMEOUT", 10.0),
        max_body_bytes=int(read_number(environ, "RECEIVER_MAX_BODY_BYTES", 10 * MIB, int)),
        lease_seconds=read_number(environ, "RECEIVER_LEASE_SECONDS", 30.0),
        retry_horizon_seconds=read_number(environ, "RECEIVER_RETRY_HORIZON_SECONDS", 3 * 24 * 3600.0),
        store_timeout_seconds=read_number(environ, "RECEIVER_STORE_TIMEOUT_SECONDS", 3.0),
        metrics_token=environ.get("RECEIVER_METRICS_TOKEN") or None,
        environ=dict(environ),
    )
    # Read by the logging set-up; checked here so that a typo stops the start with a sentence.
    read_choice(environ, "RECEIVER_LOG_LEVEL", LOG_LEVELS, "INFO")
    read_choice(environ, "RECEIVER_LOG_FORMAT", LOG_FORMATS, "json")
    if not for_commands:
        check_serving(settings)
    return settings


def check_serving(settings: Settings) -> None:
    """Refuse to serve the webhook or deliver without the token and each adapter's settings."""
    if not settings.tokens:
        raise ConfigError(
            "ROCKETCHAT_LIVECHAT_TOKEN is not set: give it the secret token configured in "
            "Rocket.Chat (Omnichannel > Webhooks > Secret Token); a comma-separated list "
            "accepts several during a rotation"
        )
    from .adapters import registry  # here, not above: the registry reads ConfigError from here

    registry.check_names(settings.adapters)
    check_adapter_settings(settings)


def _check_signing_secret(secret: str) -> None:
    from standardwebhooks.webhooks import Webhook

    try:
        Webhook(secret)
    except Exception:
        raise ConfigError(
            "RECEIVER_HTTP_SECRET must be a Standard Webhooks secret: `whsec_` followed by "
            "base64, for example whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        ) from None


# Built-in adapters whose own settings are checked at start-up, before any delivery; named,
# not imported, so that a receiver without them never loads their modules.
ADAPTER_SETTINGS = {
    "hubspot": "receiver.adapters.hubspot.settings:HubSpotSettings",
    "zoho": "receiver.adapters.zoho.settings:ZohoSettings",
}


def check_adapter_settings(settings: Settings) -> None:
    """Refuse adapter choices whose required settings are missing."""
    if "jsonl" in settings.adapters and not settings.jsonl_path:
        raise ConfigError("RECEIVER_JSONL_PATH is required when RECEIVER_ADAPTERS includes jsonl")
    if "http" in settings.adapters and not settings.http_url:
        raise ConfigError("RECEIVER_HTTP_URL is required when RECEIVER_ADAPTERS includes http")
    if settings.http_secret:
        _check_signing_secret(settings.http_secret)
    for name in settings.adapters:
        if name in ADAPTER_SETTINGS:
            # Raises ConfigError naming the missing or malformed variable.
            pkgutil.resolve_name(ADAPTER_SETTINGS[name]).from_environ(settings.environ)
    if settings.lease_seconds <= settings.http_timeout:
        raise ConfigError(
            "RECEIVER_LEASE_SECONDS must be longer than RECEIVER_HTTP_TIMEOUT, or a slow "
            "delivery could be taken over while still running"
        )


def get_settings() -> Settings:
    """The current app's settings (`state.current().settings`)."""
    from .state import current

    return current().settings
