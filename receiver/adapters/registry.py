"""Finds adapters in the `receiver.adapters` entry-point group and builds the configured ones."""

import logging
from importlib.metadata import entry_points

from ..config import ConfigError

GROUP = "receiver.adapters"
log = logging.getLogger(__name__)


def installed() -> dict:
    """Entry points by adapter name, without importing any adapter."""
    return {point.name: point for point in entry_points(group=GROUP)}


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
        try:
            classes[name] = known[name].load()
        except Exception as error:  # a plugin may fail in any way; report it, carry on
            broken[name] = f"{type(error).__name__}: {error}"
    return classes, broken


def adapter_classes(names) -> dict:
    """The classes of the named adapters that import; the worker reports the others."""
    return _load(names)[0]


def build(names, settings) -> tuple[dict, dict]:
    """The adapters that load, by name, and the error of each that does not.

    One broken adapter must not stop the others: its deliveries simply wait, pending,
    until it is fixed.
    """
    classes, broken = _load(names)
    adapters = {}
    for name, adapter_class in classes.items():
        try:
            adapter = adapter_class(settings)
            adapter.name = name
            adapters[name] = adapter
        except Exception as error:  # a plugin may fail in any way; report it, carry on
            broken[name] = f"{type(error).__name__}: {error}"
    for name, error in broken.items():
        log.error("adapter %s could not be loaded: %s", name, error)
    return adapters, broken
