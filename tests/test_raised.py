"""What an adapter's exception leads to, as a table."""

import errno
import socket

import pytest
import requests
import urllib3

from receiver.adapters.base import Failed, RetryLater
from receiver.raised import RaisedPolicy

POLICY = RaisedPolicy()
BUG = TypeError("unsupported operand type(s) for +: 'NoneType' and 'str'")
BUG_TEXT = "TypeError: unsupported operand type(s) for +: 'NoneType' and 'str'"


@pytest.mark.parametrize("error, last_error, outcome", [
    # A bug or an unmappable event: two quick tries, seconds apart, then a dead letter.
    (BUG, None, RetryLater(f"adapter raised {BUG_TEXT} (quick try 1 of 3)", 2.0)),
    (BUG, "HTTP 503: busy", RetryLater(f"adapter raised {BUG_TEXT} (quick try 1 of 3)", 2.0)),
    (BUG, f"adapter raised {BUG_TEXT} (quick try 1 of 3)",
     RetryLater(f"adapter raised {BUG_TEXT} (quick try 2 of 3)", 2.0)),
    (BUG, f"adapter raised {BUG_TEXT} (quick try 2 of 3)",
     Failed(f"adapter raised {BUG_TEXT} (a dead letter after 3 quick tries)")),
    (KeyError("id"), "adapter raised ValueError: x\ny (quick try 2 of 3)",
     Failed("adapter raised KeyError: 'id' (a dead letter after 3 quick tries)")),
    # A dead letter retried by hand gets its quick tries again.
    (BUG, f"adapter raised {BUG_TEXT} (a dead letter after 3 quick tries)",
     RetryLater(f"adapter raised {BUG_TEXT} (quick try 1 of 3)", 2.0)),
    (RuntimeError(), None, RetryLater("adapter raised RuntimeError (quick try 1 of 3)", 2.0)),
    # Network and machine faults pass: the usual backoff, over the usual horizon, however many.
    (ConnectionResetError(errno.ECONNRESET, "reset"), "adapter raised OSError (quick try 2 of 3)",
     RetryLater("adapter raised ConnectionResetError: [Errno 104] reset")),
    (socket.timeout("timed out"), None, RetryLater("adapter raised TimeoutError: timed out")),
    (requests.ConnectionError("refused"), None,
     RetryLater("adapter raised ConnectionError: refused")),
    (urllib3.exceptions.ProtocolError("aborted"), None,
     RetryLater("adapter raised ProtocolError: aborted")),
])
def test_outcome_of_an_exception(error, last_error, outcome):
    assert POLICY.outcome(error, last_error) == outcome


def test_a_long_message_is_cut():
    outcome = POLICY.outcome(ValueError("x" * 10_000), None)
    assert len(outcome.reason) < 600 and "..." in outcome.reason

