"""Adapter checks for /readyz: at most once a minute per process, waited for a second at most.

A probe may come every second from a platform, or from anyone: each check calls the CRM
with the receiver's credentials (and Zoho issues only a few access tokens an hour), so a
process keeps its adapters, and with them their tokens and connections, and answers from
its last run until it is a minute old. A run waits at most a second for the answers; a
check still running then is reported as failed, and the next run does not start another
beside it.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

CHECK_INTERVAL_SECONDS = 60
WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class Check:
    """One adapter's check: whether it passed, and what it said (for operators only)."""

    ok: bool
    detail: str


def check_adapter(adapter) -> Check:
    """Run one adapter's own check, whatever it raises."""
    try:
        return Check(True, f"ok: {adapter.check()}")
    except Exception as error:  # report the adapter's problem, never raise
        return Check(False, f"failed: {type(error).__name__}: {error}")


class AdapterChecks:
    """The configured adapters of this process, and their latest checks."""

    def __init__(self, settings, interval: float = CHECK_INTERVAL_SECONDS,
                 wait: float = WAIT_SECONDS):
        self.settings, self.interval, self.wait = settings, interval, wait
        self._running = threading.Lock()
        self._adapters: dict | None = None
        self._broken: dict = {}
        self._checks: dict[str, Check] = {}
        self._in_flight: dict[str, threading.Thread] = {}
        self._checked_at: float | None = None
        self.checked_at: datetime | None = None  # when the latest run was, for people

    def latest(self, refresh: bool = False) -> dict[str, Check]:
        """Each adapter's check, run again first if the last run is older than the interval.

        `refresh` runs them now whatever their age: the console's *Check now*.
        """
        if refresh or self._stale():
            with self._running:
                if refresh or self._stale():  # no other probe ran them while this one waited
                    self._checks = self._run()
                    self._checked_at = time.monotonic()
                    self.checked_at = datetime.now(timezone.utc)
        return self._checks

    def _stale(self) -> bool:
        return self._checked_at is None or time.monotonic() - self._checked_at >= self.interval

    def _run(self) -> dict[str, Check]:
        if self._adapters is None:
            from .adapters import registry

            self._adapters, self._broken = registry.build(self.settings.adapters, self.settings)
        results = {name: Check(False, f"failed: cannot load: {error}")
                   for name, error in self._broken.items()}
        answers: dict[str, Check] = {}
        for name, adapter in self._adapters.items():
            if self._in_flight.get(name) and self._in_flight[name].is_alive():
                results[name] = Check(False, "failed: the previous check has not answered yet")
            else:
                self._in_flight[name] = self._start(name, adapter, answers)
        deadline = time.monotonic() + self.wait
        for name, thread in self._in_flight.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if name not in results:
                results[name] = answers.get(name) or Check(
                    False, f"failed: no answer within {self.wait:g} s")
        return results

    @staticmethod
    def _start(name: str, adapter, answers: dict) -> threading.Thread:
        """Check `adapter` in a thread of its own, which puts its answer in `answers`."""
        thread = threading.Thread(target=lambda: answers.__setitem__(name, check_adapter(adapter)),
                                  name=f"check-{name}", daemon=True)
        thread.start()
        return thread
