"""The one object that holds what a receiver app keeps for its life, and its one accessor."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy.engine import Engine

from . import writeback
from .backlog import Backlog
from .config import Settings
from .readiness import AdapterChecks
from .store import db
from .store.upgrade_needed import UpgradeNotice
from .store.writelock import WriteLock

if TYPE_CHECKING:
    from .console.access import Access

EXTENSION = "receiver"


@dataclass
class Receiver:
    """A receiver app's state: its settings, its engine, and what it keeps over them."""

    settings: Settings
    engine: Engine
    # Whether any configured adapter reports CRM record ids for the webhook's answer.
    write_back: bool
    # The /metrics backlog gauges, read at most every few seconds.
    backlog: Backlog
    # The adapters' connection checks /readyz and the console share: kept as long as the
    # process, so the adapters' tokens and connections are too.
    adapter_checks: AdapterChecks
    # Says once per process that the schema needs `receiver db upgrade`.
    upgrade_notice: UpgradeNotice = field(default_factory=UpgradeNotice)
    # The console's password, sign-in throttle and session key; None while it is off.
    console: "Access | None" = None

    @classmethod
    def build(cls, settings: Settings) -> "Receiver":
        """The state of an app with these settings: its engine made, nothing read yet."""
        return cls(settings=settings,
                   engine=db.make_engine(settings.database_url,
                                         timeout_seconds=settings.store_timeout_seconds),
                   write_back=writeback.enabled(settings.adapters),
                   backlog=Backlog(settings.adapters),
                   adapter_checks=AdapterChecks(settings))

    @property
    def write_lock(self) -> WriteLock | None:
        """The lock that queues this app's writers of an SQLite file; None on PostgreSQL."""
        return db.write_lock(self.engine)


def current(app=None) -> Receiver:
    """The state of `app`, or of the current app."""
    return (app or current_app).extensions[EXTENSION]
