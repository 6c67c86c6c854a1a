"""What each outcome writes on its delivery, as a table."""

from datetime import datetime, timedelta, timezone

import pytest

from receiver.store.deliveries import Claim
from receiver.store.outcomes import Outcome, columns

T0 = datetime(2025, 3, 4, 12, 0, tzinfo=timezone.utc)
ATTEMPTED = T0 - timedelta(seconds=1)
DUE = T0 + timedelta(seconds=30)
CLAIM = Claim(id=1, adapter="http", attempts=4, retries_since=T0, due_at=T0, event_id="e",
              event={})


@pytest.mark.parametrize("kind, reason, due_at, expected", [
    ("delivered", None, None,
     {"state": "delivered", "finished_at": T0, "last_error": None}),
    ("failed", "HTTP 400: bad", None,
     {"state": "dead", "finished_at": T0, "last_error": "HTTP 400: bad"}),
    ("retry", "HTTP 503: down", DUE,
     {"due_at": DUE, "last_error": "HTTP 503: down"}),
    ("retry", "HTTP 503: down", None,  # past the retry horizon
     {"state": "dead", "finished_at": T0,
      "last_error": "HTTP 503: down (gave up after 4 attempts)"}),
])
def test_each_outcome_writes_its_columns(kind, reason, due_at, expected):
    outcome = Outcome(kind, ATTEMPTED, reason=reason, due_at=due_at)
    assert columns(outcome, CLAIM, T0) == {**expected, "last_attempt_at": ATTEMPTED}

