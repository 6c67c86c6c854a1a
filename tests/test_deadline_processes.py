"""Real `receiver worker` processes against a CRM that trickles its answers: one delivery is
never in flight twice, and SIGTERM is honoured within the attempt's deadline."""

import signal
import time

import pytest

from .builders import payload
from .crm import SECRET
from .servers import start_worker, wait_for, workers
from .stored import delivery_states
from .trickling import TricklingCrm

pytestmark = pytest.mark.slow

LEASE = 3.0
DEADLINE = 1.35  # under half the lease
MARGIN = 1.5  # a busy machine's scheduling, never near the trickle's 12 s


@pytest.fixture
def trickling():
    with TricklingCrm("body", interval=0.25, seconds=12) as crm:
        yield crm


@pytest.fixture
def environment(environment, trickling):
    # A read timeout of 2 s, which a byte every 0.25 s never trips.
    environment.update(RECEIVER_ADAPTERS="http", RECEIVER_HTTP_URL=f"{trickling.url}/events",
                       RECEIVER_HTTP_SECRET=SECRET, RECEIVER_HTTP_TIMEOUT="2",
                       RECEIVER_LEASE_SECONDS=str(LEASE))
    return environment


def last_error(engine, app) -> str:
    from receiver.store import deliveries

    with engine.connect() as conn:
        (row,) = deliveries.list_deliveries(conn)
    return row.last_error


def test_two_workers_never_have_one_delivery_in_flight_together(
        environment, app, post, trickling, engine):
    event_id = post(payload("e-message-agent")).get_json()["id"]
    with workers(environment, 2):
        # Three attempts span past three leases: time enough for a lapsed claim to be taken.
        assert wait_for(lambda: len(trickling.calls) >= 3, timeout=30)
    # The server sees a client has hung up when its next byte fails to go out.
    assert wait_for(lambda: all(call["end"] for call in trickling.calls), timeout=5)
    assert trickling.in_flight_together() == []
    assert all(call["end"] - call["start"] < DEADLINE + MARGIN for call in trickling.calls)
    assert delivery_states(engine) == {event_id: "pending"}
    assert "no whole answer within 1.35 s" in last_error(engine, app)


def test_sigterm_mid_attempt_exits_within_the_deadline(environment, app, post, trickling, engine):
    event_id = post(payload("e-message-agent")).get_json()["id"]
    process = start_worker(environment)
    try:
        assert trickling.started.wait(20)
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert time.monotonic() - stopping < DEADLINE + MARGIN
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert delivery_states(engine) == {event_id: "pending"}
    assert "no whole answer within 1.35 s" in last_error(engine, app)
