"""An adapter's view of the receiver's database: which record each visitor identifier matched,
and which note each conversation was written to."""

from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from .. import clock
from ..store import crm_notes, identities
from ..store.identities import Known, Taken
from ..store.transactions import StoreUnavailable, reading, transaction
from .api import Transient
from .own_engine import OnOwnEngine

__all__ = ["IdentityLinks", "Known", "Taken"]


class IdentityLinks(OnOwnEngine):
    """Shared by every worker process through the database, on the adapter's own engine."""

    @contextmanager
    def _writing(self):
        """A transaction whose store failures are a transient failure of the delivery."""
        try:
            with transaction(self.engine) as conn:
                yield conn
        except StoreUnavailable as error:
            raise Transient(f"the receiver's database is unavailable: {error}") from None

    @contextmanager
    def _reading(self):
        """A read that takes no write lock on SQLite; store failures are transient."""
        try:
            with reading(self.engine) as conn:
                yield conn
        except (SQLAlchemyError, StoreUnavailable) as error:
            raise Transient(f"the receiver's database is unavailable: "
                            f"{type(error).__name__}") from None

    def known(self, scope: str, identifiers: list[str]) -> dict[str, Known]:
        with self._reading() as conn:
            return identities.known(conn, scope, identifiers)

    def notes(self, scope: str, markers: list[str]) -> dict[str, str | None]:
        """The note id kept for each marker that has one (None: a create went out)."""
        with self._reading() as conn:
            return crm_notes.known(conn, scope, markers)

    def sending_notes(self, scope: str, markers: list[str]) -> None:
        with self._writing() as conn:
            crm_notes.sending(conn, scope, markers, clock.now())

    def remember_notes(self, scope: str, note_ids: dict[str, str]) -> None:
        with self._writing() as conn:
            crm_notes.remember(conn, scope, note_ids, clock.now())

    def forget_note(self, scope: str, marker: str) -> None:
        with self._writing() as conn:
            crm_notes.forget(conn, scope, marker)

    def link(self, scope: str, identifiers: list[str], record_id: str, matched_by: str,
             synced: str | None = None) -> None:
        with self._writing() as conn:
            identities.link(conn, scope, identifiers, record_id, matched_by, clock.now(), synced)

    def touch(self, scope: str, identifiers: list[str]) -> None:
        with self._writing() as conn:
            identities.touch(conn, scope, identifiers, clock.now())

    def link_all(self, scope: str, links: dict[str, tuple[str, str, str | None]]) -> None:
        """Several identifiers' links, each (record id, matched by, synced), in one write."""
        with self._writing() as conn:
            identities.link_all(conn, scope, links, clock.now())

    def claim_all(self, scope: str, claims: list[tuple[list[str], str]],
                  until: datetime) -> list[Known | Taken | None]:
        """Several visitors' claims in one transaction (see store)."""
        with self._writing() as conn:
            return identities.claim_all(conn, scope, claims, clock.now(), until)

    def release(self, scope: str, identifiers: list[str], owner: str) -> None:
        with self._writing() as conn:
            identities.release(conn, scope, identifiers, owner)

    def forget(self, scope: str, record_id: str) -> None:
        with self._writing() as conn:
            identities.forget(conn, scope, record_id)

