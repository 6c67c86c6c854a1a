"""Real `receiver worker` processes: polite stops, kills, and several at once."""

import signal
import time

import pytest

from .builders import payload, rooms, visitor_message
from .crm import Answer
from .delivering import delivering_to, in_arrival_order
from .servers import start_worker, wait_for, workers
from .stored import delivery_states, leased_deliveries

pytestmark = pytest.mark.slow


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="3", lease="4")


def test_sigterm_finishes_the_delivery_in_hand(environment, post, crm, engine):
    event_id = post(payload("e-message-agent")).get_json()["id"]
    crm.answer(Answer(200, delay=1.5))
    process = start_worker(environment)
    assert crm.started.wait(20)
    stopping = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert time.monotonic() - stopping < 10  # well within Heroku's 30 s
    assert delivery_states(engine) == {event_id: "delivered"}
    assert crm.delivered_ids() == [event_id]


def another_worker_delivers_everything(environment, engine) -> bool:
    """Start a fresh worker and wait until every delivery is delivered; False on timeout."""
    with workers(environment, 1):
        return wait_for(lambda: set(delivery_states(engine).values()) == {"delivered"})


def test_a_killed_worker_loses_nothing(environment, post, crm, engine):
    ids = [post(payload(name)).get_json()["id"] for name in (
        "e-livechat-session-start", "e-message-visitor", "e-livechat-session-close")]
    crm.answer(Answer(200, delay=2.5))  # the first delivery hangs...
    first = start_worker(environment)
    assert crm.started.wait(20)
    first.kill()  # ...and its worker dies holding the claim
    first.wait()
    assert another_worker_delivers_everything(environment, engine)
    delivered = crm.delivered_ids()
    assert set(delivered) == set(ids)
    # The interrupted event may arrive twice (at-least-once); the order still holds.
    assert list(dict.fromkeys(delivered)) == ids


def test_a_worker_killed_holding_a_batch_of_claims_loses_none_of_them(
        environment, post, crm, engine):
    ids = rooms(post, 5)
    # The first delivery is quick, so the worker claims several of the other rooms at once
    # (all four, unless the machine is so busy that it took over 12 ms); the next one hangs,
    # and the worker dies holding the batch.
    crm.answer(Answer(200), Answer(200, delay=3))
    first = start_worker(environment)
    try:
        assert wait_for(lambda: len(leased_deliveries(engine)) >= 2)
    finally:
        first.kill()
        first.wait()
    assert another_worker_delivers_everything(environment, engine)
    assert set(crm.delivered_ids()) == set(ids)


def test_several_worker_processes_deliver_each_event_once_in_order(environment, post, crm, engine):
    expected = {}
    for n in range(60):
        body = visitor_message(f"room{n % 6}", f"m{n}")
        expected.setdefault(body["_id"], []).append(post(body).get_json()["id"])
    crm.answer(*[Answer(503)] * 6)
    with workers(environment, 3):
        assert wait_for(lambda: len(crm.delivered_ids()) >= 60, timeout=60)
    delivered = crm.delivered_ids()
    assert len(delivered) == len(set(delivered)) == 60
    for ids in expected.values():
        assert in_arrival_order(delivered, ids) == ids
    assert set(delivery_states(engine).values()) == {"delivered"}
