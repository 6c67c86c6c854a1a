"""An adapter's own engine on the receiver's database: made on first use, disposed on close."""

from ..store.db import make_engine


class OwnEngine:
    """A one-connection engine for what an adapter keeps in the store, shared by every worker.

    One adapter makes one for all its parts (visitor links, notes, the rate budget): it
    handles one delivery (or batch) at a time, and none of its parts holds a transaction
    open while another runs, so one connection serves them all.
    """

    def __init__(self, database_url: str, timeout_seconds: float):
        self.database_url = database_url
        self.timeout_seconds = timeout_seconds
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            self._engine = make_engine(self.database_url, timeout_seconds=self.timeout_seconds,
                                       pool_size=1)
        return self._engine

    def close(self) -> None:
        """Release the connection; safe to call again."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class OnOwnEngine:
    """A part of an adapter that keeps things in the store through the adapter's engine."""

    def __init__(self, own: OwnEngine):
        self.own = own

    @property
    def engine(self):
        return self.own.engine

    def close(self) -> None:
        """Release the adapter's connection (its other parts make it again if they need it)."""
        self.own.close()
