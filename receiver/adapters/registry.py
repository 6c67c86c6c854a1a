"""Finds adapters in the `receiver.adapters` entry-point group, once, and builds the configured
ones with their own settings."""

import functools
import logging
from importlib.metadata import EntryPoint, entry_points

from ..config import ConfigError

GROUP = "receiver.adapters"
log = logging.getLogger(__name__)


@functools.cache
def read_entry_points() -> dict[str, EntryPoint]:
    """The group's entry points by adapter name, read once per process.

    `read_entry_points.cache_clear()` reads them afresh, for a package installed meanwhile.
    """
    return {point.name: point for point in entry_points(group=GROUP)}


def installed() -> dict[str, EntryPoint]:
    """Entry points by adapter name, without importing any adapter."""
    return dict(read_entry_points())  # a copy: callers may add to it


@functools.cache
def _loaded(point: EntryPoint) -> tuple[type | None, str | None]:
    """The class an entry point names, imported once, or why it does not import."""
    try:
        return point.load(), None
    except Exception as error:  # a plugin may fail in any way; report it, carry on
        return None, f"{type(error).__name__}: {error}"


def check_names(names) -> None:
    """Refuse adapter names that no installed package provides."""
    known = installed()
    missing = [name for name in names if name not in known]
    if missing:
        raise ConfigError(
            f"RECEIVER_ADAPTERS names {', '.join(missing)}, which no installed package "
            f"provides (installed: {', '.join(sorted(known)) or 'none'})"
        )


def _load(names) -> tuple[dict, dict]:
    """The classes of the named adapters that import, and the error of each that does not."""
    known, classes, broken = installed(), {}, {}
    for name in names:
        if name not in known:  # checked at start; a command may still name one
            broken[name] = "no installed package provides it"
            continue
        adapter_class, error = _loaded(known[name])
        if error:
            broken[name] = error
        else:
            classes[name] = adapter_class
    return classes, broken


def adapter_classes(names) -> dict:
    """The classes of the named adapters that import; the worker reports the others."""
    return _load(names)[0]


def own_settings(adapter_class, environ):
    """The adapter's own settings read from `environ`, or None for an adapter without any.

    Raises ConfigError naming the variable to fix.
    """
    settings_class = getattr(adapter_class, "settings_class", None)
    return None if settings_class is None else settings_class.from_environ(environ)


def check_settings(names, environ) -> None:
    """Refuse to start while a configured adapter's own settings are missing or malformed."""
    for adapter_class in adapter_classes(names).values():
        try:
            own_settings(adapter_class, environ)
        except ConfigError:
            raise
        except Exception:  # a plugin's own bug: `build` reports it, and the others run
            pass


def build(names, settings) -> tuple[dict, dict]:
    """The adapters that load, by name, and the error of each that does not.

    One broken adapter must not stop the others: its deliveries simply wait, pending,
    until it is fixed.
    """
    classes, broken = _load(names)
    adapters = {}
    for name, adapter_class in classes.items():
        try:
            config = own_settings(adapter_class, settings.environ)
            # One without settings of its own is built as adapters always were, so that
            # plugins whose __init__ takes the receiver's settings alone keep working.
            adapter = adapter_class(settings) if config is None else adapter_class(settings, config)
            adapter.name = name
            adapters[name] = adapter
        except Exception as error:  # a plugin may fail in any way; report it, carry on
            broken[name] = f"{type(error).__name__}: {error}"
    for name, error in broken.items():
        log.error("adapter %s could not be loaded: %s", name, error)
    return adapters, broken
