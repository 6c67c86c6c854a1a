"""A contract-test mixin that every adapter's tests inherit, built-in or third-party.

    class TestMyCrmAdapter(AdapterContract):
        def make_adapter(self):
            return MyCrmAdapter(settings_pointing_at_a_fake_crm)

Override `delivered_ids()` to report what the CRM received, and the idempotency and
coverage tests check it too.
"""

from dataclasses import replace
from datetime import datetime, timezone

from .adapters.base import Adapter, Delivered, Failed, RetryLater
from .dedup import dedup_key, event_id
from .records import to_dict
from .samples import sample_bodies
from .schemas import parse_event

RECEIVED_AT = datetime(2025, 3, 4, 10, 32, tzinfo=timezone.utc)


def sample_events() -> dict[str, dict]:
    """Each sample body as the normalized event an adapter receives."""
    events = {}
    for name, body in sample_bodies().items():
        event = parse_event(body)
        event = replace(event, id=event_id(dedup_key(body, event)), received_at=RECEIVED_AT)
        events[name] = to_dict(event)
    return events


class AdapterContract:
    """What the worker relies on from any adapter."""

    def make_adapter(self) -> Adapter:
        raise NotImplementedError

    def delivered_ids(self) -> list[str] | None:
        """Event ids the CRM has received, in order, or None if the test cannot tell."""
        return None

    def _deliver(self, event):
        adapter = self.make_adapter()
        try:
            return adapter.deliver(event)
        finally:
            adapter.close()

    def test_is_an_adapter(self):
        adapter = self.make_adapter()
        assert isinstance(adapter, Adapter)
        adapter.close()

    def test_every_sample_event_gets_an_outcome(self):
        for name, event in sample_events().items():
            outcome = self._deliver(event)
            assert isinstance(outcome, (Delivered, RetryLater, Failed)), (name, outcome)

    def test_delivering_twice_is_harmless(self):
        event = sample_events()["e-livechat-session-close"]
        first, second = self._deliver(event), self._deliver(event)
        assert isinstance(first, Delivered) and isinstance(second, Delivered)

    def test_the_crm_sees_events_in_the_order_given(self):
        events = [sample_events()[name] for name in (
            "e-livechat-session-start", "e-message-visitor", "e-livechat-session-close")]
        for event in events:
            assert isinstance(self._deliver(event), Delivered)
        seen = self.delivered_ids()
        if seen is not None:
            ids = [event["id"] for event in events]
            assert [i for i in seen if i in ids] == ids

    def test_check_answers_or_raises(self):
        adapter = self.make_adapter()
        try:
            assert isinstance(adapter.check(), str)
        finally:
            adapter.close()

    def test_close_twice_is_safe(self):
        adapter = self.make_adapter()
        adapter.close()
        adapter.close()
