"""What makes a vendor fake as demanding as the vendor: lagging search, lost answers, limits.

Each vendor's module cites the documentation behind the behaviours it switches on.
"""

import socket
import time
from collections import deque
from dataclasses import dataclass, field

DEFAULT_SEARCH_LAG_SECONDS = 3.0


class SearchIndex:
    """Search that sees each write `lag` seconds after it was made, as the record was then.

    The clock is `time.time`, so freezegun moves it in tests; `catch_up()` lets search see
    every write made so far, whatever the lag.
    """

    def __init__(self, lag: float = DEFAULT_SEARCH_LAG_SECONDS):
        self.lag = lag
        self.history: dict[str, list[tuple[float, dict]]] = {}
        self.caught_up_at = float("-inf")

    def write(self, record_id: str, values: dict) -> None:
        self.history.setdefault(record_id, []).append((time.time(), dict(values)))

    def forget(self, record_id: str) -> None:
        self.history.pop(record_id, None)

    def catch_up(self) -> None:
        self.caught_up_at = time.time()

    def visible(self) -> dict[str, dict]:
        """Each record as search sees it now: its newest write old enough to be indexed."""
        horizon = max(time.time() - self.lag, self.caught_up_at)
        seen = {}
        for record_id, writes in self.history.items():
            indexed = [values for at, values in writes if at <= horizon]
            if indexed:
                seen[record_id] = indexed[-1]
        return seen


@dataclass
class LostAnswers:
    """Writes that are made but whose answer never reaches the client.

    `lose(n, how)` loses the next n write answers; `every` loses one write answer in
    `every` (0: none). `how` is "504" (a gateway timeout in front of a write that was
    kept) or "reset" (the connection closed before any answer).
    """

    every: int = 0
    how: str = "504"
    queued: deque = field(default_factory=deque)
    writes: int = 0
    lost: int = 0

    def lose(self, count: int = 1, how: str = "504") -> None:
        self.queued.extend([how] * count)

    def next_write(self) -> str | None:
        """How the answer to the write being made is lost, or None if it arrives."""
        self.writes += 1
        how = None
        if self.queued:
            how = self.queued.popleft()
        elif self.every and self.writes % self.every == 0:
            how = self.how
        self.lost += how is not None
        return how


def reset_connection(environ) -> None:
    """Close the client's connection without an answer, as a dropped proxy or network does."""
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class RollingLimit:
    """At most `limit` calls in any `window` seconds; the call past it is refused."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.calls: deque[float] = deque()

    def allow(self) -> bool:
        now = time.time()
        while self.calls and self.calls[0] <= now - self.window:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            return False
        self.calls.append(now)
        return True

    def remaining(self) -> int:
        return max(0, self.limit - len(self.calls))
