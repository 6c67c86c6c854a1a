"""What a CRM adapter is: a name, `deliver(event)` returning an outcome, an optional check."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Delivered:
    """The CRM has the event; `references` are the CRM's record ids, if it returned any."""

    detail: str | None = None
    references: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RetryLater:
    """A transient failure; try again, after `delay` seconds if the CRM said how long."""

    reason: str
    delay: float | None = None


@dataclass(frozen=True)
class Failed:
    """A permanent failure: retrying the same event cannot succeed, so it is a dead letter now."""

    reason: str


Outcome = Delivered | RetryLater | Failed


class Adapter:
    """Base class for CRM adapters, built from the receiver's settings and the adapter's own.

    `deliver` receives the normalized event (a plain dict, DESIGN.md version 1) and must
    be idempotent on `event["id"]`: a crash between the CRM's answer and the receiver's
    bookkeeping delivers the same event again.

    `settings_class`, if the adapter has settings of its own, is a frozen dataclass whose
    `from_environ(environ)` reads them, raising ConfigError that names the variable to fix.
    The registry checks it when the receiver starts and builds the adapter with the result
    as `config`.
    """

    name = "adapter"
    settings_class = None
    # How many due deliveries the worker hands to `deliver_batch` at once: one, unless the
    # CRM answers several records in one call.
    batch_size = 1

    def __init__(self, settings, config=None):
        self.settings = settings
        if config is None and self.settings_class is not None:
            # Built directly (tests, scripts) rather than by the registry: read them here.
            config = self.settings_class.from_environ(settings.environ)
        self.config = config

    def deliver(self, event: dict) -> Outcome:
        raise NotImplementedError

    def deliver_batch(self, events: list[dict]) -> list[Outcome]:
        """One outcome per event, in order; each its own (one refused event fails alone).

        The worker never hands over two events of one conversation at once. By default each
        event is delivered on its own.
        """
        return [self.deliver(event) for event in events]

    def check(self) -> str:
        """Verify the CRM is reachable and the credentials work; return what was checked."""
        return "no check for this adapter"

    def close(self) -> None:
        """Release connections when done with the adapter; a second call must do no harm.

        The worker closes its adapters when it stops, and a check closes the adapter it built;
        AdapterContract closes one twice.
        """
