"""What a vendor fake was asked: calls, 429s, calls in flight at once, and calls in any window."""

import bisect
import threading
import time


class Traffic:
    """Counts a fake's API calls as they arrive and end, for tests and the drain benchmark.

    Arrival times use `time.monotonic`, as the vendor's own clock would: a call counts in
    the window in which it reached the server, whatever the client thought it sent.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals: list[float] = []
        self.throttled = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def begin(self) -> int:
        """Count a call arriving; how many calls are in flight now, this one included."""
        with self.lock:
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.in_flight

    def end(self, status: int) -> None:
        with self.lock:
            self.in_flight -= 1
            self.throttled += status == 429

    @property
    def calls(self) -> int:
        return len(self.arrivals)

    def peak(self, window: float) -> int:
        """The most calls that arrived within any `window` seconds."""
        with self.lock:
            arrivals = list(self.arrivals)
        return max((bisect.bisect_left(arrivals, start + window) - index
                    for index, start in enumerate(arrivals)), default=0)

    def summary(self, window: float) -> dict:
        return {"calls": self.calls, "throttled": self.throttled,
                "max_in_flight": self.max_in_flight, "peak_per_window": self.peak(window)}
