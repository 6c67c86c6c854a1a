"""The whole promise with real processes: every event reaches the CRM once, in its order,
through a CRM that refuses now and then, a database that drops every connection, and web
processes killed mid-request.
"""

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from . import servers
from .builders import TOKEN, visitor_message
from .crm import Answer
from .delivering import delivering_to, in_arrival_order
from .postgres import terminate_backends
from .stored import count, delivery_states

pytestmark = pytest.mark.slow

CONVERSATIONS = 8
MESSAGES = 15
ROOMS = [f"room-{n}" for n in range(CONVERSATIONS)]


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="3", lease="4")


def message(conversation: str, n: int) -> bytes:
    """The `n`th visitor message of `conversation`, as Rocket.Chat posts it."""
    return json.dumps(visitor_message(conversation, f"{conversation}-m{n}")).encode()


def converse(url: str, conversation: str) -> list[str]:
    """Post a conversation's messages in turn, resending some as Rocket.Chat's retries do.

    Returns the event ids in the order the receiver accepted them.
    """
    accepted = []
    for n in range(MESSAGES):
        raw = message(conversation, n)
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
        with servers.gunicorn(environment, workers=3) as web, \
                ThreadPoolExecutor(CONVERSATIONS) as pool:
            accepted = dict(zip(ROOMS, pool.map(lambda name: converse(web.url, name), ROOMS)))
        started = time.monotonic()
        assert servers.wait_for(lambda: len(crm.delivered_ids()) >= total, timeout=90), (
            f"{len(crm.delivered_ids())} of {total} delivered in {time.monotonic() - started:.0f} s")
    delivered = crm.delivered_ids()
    assert len(delivered) == len(set(delivered)) == total
    for conversation, ids in accepted.items():
        assert in_arrival_order(delivered, ids) == ids, conversation
    refused = [r for r in crm.received if r["status"] >= 300]
    assert len(refused) >= 5  # the failures really happened, and were retried past
    assert count(engine, "events") == total
    assert set(delivery_states(engine).values()) == {"delivered"}


def post_until_stored(url: str, raw: bytes, answers: list) -> str:
    """Post as Rocket.Chat does, again after any answer but 200; the stored event's id."""
    for _ in range(20):
        status, answer = servers.post(url, raw, TOKEN)
        answers.append(status)
        if status == 200:
            return json.loads(answer)["id"]
        time.sleep(0.2)
    raise AssertionError(f"never stored; answers {answers[-20:]}")


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_connections_lost_mid_stream_lose_and_repeat_nothing(environment, crm, engine,
                                                             database_url):
    total = CONVERSATIONS * MESSAGES
    halfway, answers, killed = threading.Event(), [], []

    def converse_through_failover(url: str, conversation: str) -> list[str]:
        ids = []
        for n in range(MESSAGES):
            ids.append(post_until_stored(url, message(conversation, n), answers))
            if len(answers) >= total // 2:
                halfway.set()
        return ids

    def fail_over():
        halfway.wait(60)
        for _ in range(2):  # once under load, and again while the pools reconnect
            killed.append(terminate_backends(database_url))
            time.sleep(0.3)

    with servers.workers(environment, 2), ThreadPoolExecutor(CONVERSATIONS + 1) as pool:
        with servers.gunicorn(environment, workers=3) as web:
            failover = pool.submit(fail_over)
            accepted = dict(zip(ROOMS, pool.map(
                lambda name: converse_through_failover(web.url, name), ROOMS)))
            failover.result()
        assert servers.wait_for(lambda: len(set(crm.delivered_ids())) >= total, timeout=90)
    assert killed[0] > 0
    assert set(answers) <= {200, 503}  # a lost connection is a retry, never a 500
    delivered = crm.delivered_ids()
    # An outcome lost with its connection is delivered again with the same webhook-id,
    # which the CRM's idempotency absorbs; nothing is missing and the order holds.
    assert set(delivered) == {i for ids in accepted.values() for i in ids}
    first_seen = list(dict.fromkeys(delivered))
    for conversation, ids in accepted.items():
        assert in_arrival_order(first_seen, ids) == ids, conversation
    engine.dispose()  # its pooled connections were closed too
    assert count(engine, "events") == total
    assert set(delivery_states(engine).values()) == {"delivered"}


def test_every_acknowledged_event_outlives_the_web_processes_being_killed(environment, engine):
    acknowledged, sent, enough = {}, {}, threading.Event()

    def post_until_the_crash(web, conversation: str) -> None:
        for n in range(1000):
            raw = message(conversation, n)
            sent[(conversation, n)] = raw
            try:
                status, answer = servers.post(web.url, raw, TOKEN)
            except (OSError, http.client.HTTPException):
                return  # the server is gone; this body has no answer
            assert status == 200, answer
            acknowledged[(conversation, n)] = json.loads(answer)["id"]
            if len(acknowledged) >= 80:
                enough.set()

    with servers.gunicorn(environment, workers=3) as web, \
            ThreadPoolExecutor(CONVERSATIONS) as pool:
        posting = [pool.submit(post_until_the_crash, web, name) for name in ROOMS]
        assert enough.wait(60)
        web.crash()
        for future in posting:
            future.result()
    assert len(sent) > len(acknowledged)  # some posts were cut off mid-request
    with servers.gunicorn(environment, workers=3) as web:
        # Rocket.Chat sends again what got no answer, and perhaps what did.
        resent = {key: servers.post(web.url, raw, TOKEN) for key, raw in sent.items()}
    assert all(status == 200 for status, _ in resent.values())
    for key, event_id in acknowledged.items():
        assert json.loads(resent[key][1]) == {"success": True, "id": event_id, "duplicate": True}
    assert count(engine, "events") == count(engine, "deliveries") == len(sent)
