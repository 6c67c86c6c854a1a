"""The one error the store raises to its callers: it could not answer in time."""


class StoreUnavailable(Exception):
    """The store could not commit within the bounded time; the sender should retry."""
