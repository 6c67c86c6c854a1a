"""Reads and checks the receiver's core settings from the environment.

`load_settings` reads them once per app and keeps the whole environment on the Settings: each
configured adapter's settings class reads its own variables from there (adapters/registry.py),
and the console its password. A few parts read the process environment themselves, before or
outside an app: the logging set-up, gunicorn's configuration, the metrics folder
(PROMETHEUS_MULTIPROC_DIR) and the http adapter's proxy and CA bundle.
"""

import os
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
    max_body_bytes: int = 10 * MIB
    lease_seconds: float = 30.0
    retry_horizon_seconds: float = 3 * 24 * 3600.0
    store_timeout_seconds: float = 3.0
    metrics_token: str | None = None
    # The whole environment, from which each adapter's settings class reads its own variables.
    environ: Mapping = field(default_factory=dict, repr=False, compare=False)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def read_required(environ, name: str, adapter: str, hint: str = "") -> str:
    """`environ[name]`, without which the adapter named `adapter` cannot run."""
    value = environ.get(name)
    if not value:
        raise ConfigError(f"{name} is required when RECEIVER_ADAPTERS includes {adapter}"
                          + (f": {hint}" if hint else ""))
    return value


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
    registry.check_settings(settings.adapters, settings.environ)
    check_lease(settings)


# The http adapter's default RECEIVER_HTTP_TIMEOUT, kept here for check_lease.
HTTP_TIMEOUT_SECONDS = 10.0


def check_lease(settings: Settings) -> None:
    """Refuse a lease no longer than RECEIVER_HTTP_TIMEOUT, which would leave it without effect.

    It no longer keeps two workers from delivering one event: adapters/deadline.py ends every
    attempt by 45 % of the lease whatever the timeout. It stays, even for a receiver without
    the http adapter, because the refusal is documented and tested; it is the one place core
    settings name an adapter's variable.
    """
    timeout = read_number(settings.environ, "RECEIVER_HTTP_TIMEOUT", HTTP_TIMEOUT_SECONDS)
    if settings.lease_seconds <= timeout:
        raise ConfigError(
            f"RECEIVER_LEASE_SECONDS must be longer than RECEIVER_HTTP_TIMEOUT "
            f"({HTTP_TIMEOUT_SECONDS:g} s unless set): "
            "every delivery attempt ends by 45 % of the lease, so a shorter lease would leave "
            "that timeout without effect"
        )
