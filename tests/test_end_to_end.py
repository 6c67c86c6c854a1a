"""The whole promise with real processes: every event reaches the CRM once, in its order."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from . import servers
from .conftest import TOKEN, count, delivering_to, delivery_states, payload, room
from .crm import Answer

pytestmark = pytest.mark.slow

CONVERSATIONS = 8
MESSAGES = 15


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="3", lease="4")


def converse(url: str, conversation: str) -> list[str]:
    """Post a conversation's messages in turn, resending some as Rocket.Chat's retries do.

    Returns the event ids in the order the receiver accepted them.
    """
    accepted = []
    for n in range(MESSAGES):
        body = room(payload("e-message-visitor"), conversation)
        body["messages"][0]["_id"] = f"{conversation}-m{n}"
        raw = json.dumps(body).encode()
        status, answer = servers.post(url, raw, TOKEN)
        assert status == 200, answer
        first = json.loads(answer)
        assert first["duplicate"] is False
        accepted.append(first["id"])
        if n % 5 == 2:  # a retry of a body already stored: same id, nothing new stored
            status, answer = servers.post(url, raw, TOKEN)
            assert (status, json.loads(answer)["id"], json.loads(answer)["duplicate"]) == (
                200, first["id"], True)
    return accepted


def test_concurrent_conversations_reach_a_flaky_crm_once_each_in_order(environment, crm, engine):
    # The CRM refuses now and then while the conversations are still arriving.
    crm.answer(*[Answer(503) if n % 7 == 3 else Answer(200) for n in range(40)],
               Answer(429, headers={"Retry-After": "1"}), Answer(500))
    total = CONVERSATIONS * MESSAGES
    with servers.workers(environment, 2):
        with servers.gunicorn(environment, workers=3) as url, \
                ThreadPoolExecutor(CONVERSATIONS) as pool:
            names = [f"room-{n}" for n in range(CONVERSATIONS)]
            accepted = dict(zip(names, pool.map(lambda name: converse(url, name), names)))
        started = time.monotonic()
        assert servers.wait_for(lambda: len(crm.delivered_ids()) >= total, timeout=90), (
            f"{len(crm.delivered_ids())} of {total} delivered in {time.monotonic() - started:.0f} s")
    delivered = crm.delivered_ids()
    assert len(delivered) == len(set(delivered)) == total
    for conversation, ids in accepted.items():
        assert [i for i in delivered if i in set(ids)] == ids, conversation
    refused = [r for r in crm.received if r["status"] >= 300]
    assert len(refused) >= 5  # the failures really happened, and were retried past
    assert count(engine, "events") == total
    assert set(delivery_states(engine).values()) == {"delivered"}
