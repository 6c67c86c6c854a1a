"""The worker against a real local HTTP server: retries, dead letters, order, leases."""

import json
import threading
import time
from datetime import timedelta

import pytest
from freezegun import freeze_time

from receiver import cli
from receiver.adapters import Adapter
from receiver.adapters.log import LogAdapter
from receiver.claims import MAX_BATCH, Pace
from receiver.state import current
from receiver.store import deliveries, outcomes
from receiver.store.db import make_engine
from receiver.store.tables import deliveries as deliveries_table
from receiver.store.errors import StoreUnavailable
from receiver.store.transactions import transaction
from receiver.worker import Worker, build_worker

from .builders import payload, room, rooms, visitor_message
from .crm import Answer
from .delivering import delivering_to, drain, in_arrival_order
from .locks import StoreLock
from .stored import delivery_states, leased_deliveries, only_delivery

T0 = "2025-03-04T12:00:00Z"


@pytest.fixture
def environment(environment, crm):
    return delivering_to(environment, crm, timeout="1", lease="5")


def test_each_event_is_delivered_once_in_arrival_order(post, worker, crm, engine):
    names = ["e-livechat-session-start", "e-livechat-session-queued", "e-message-visitor",
             "e-message-agent", "e-livechat-session-close"]
    ids = [post(payload(name)).get_json()["id"] for name in names]
    offline = post(payload("e-offline-message")).get_json()["id"]
    assert drain(worker) == 6
    # The offline message belongs to no conversation, so it may go ahead of the room's.
    assert [i for i in crm.delivered_ids() if i != offline] == ids
    assert crm.delivered_ids().count(offline) == 1
    assert all(request["verified"] for request in crm.received)
    assert drain(worker) == 0


def test_flaky_crm_is_retried_after_a_short_backoff(post, worker, crm, engine):
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        crm.answer(Answer(500), Answer(502))
        assert drain(worker) == 1
        first = only_delivery(engine)
        assert first.state == "pending" and first.attempts == 1 and "HTTP 500" in first.last_error
        assert timedelta(seconds=1.6) <= first.due_at - first.last_attempt_at <= timedelta(seconds=2.4)
        assert drain(worker) == 0  # not due yet
        clock.tick(2.5)
        assert drain(worker) == 1
        second = only_delivery(engine)
        assert second.attempts == 2
        assert timedelta(seconds=3.2) <= second.due_at - second.last_attempt_at <= timedelta(seconds=4.8)
        clock.tick(5)
        assert drain(worker) == 1
        assert only_delivery(engine).state == "delivered"
    assert len(crm.delivered_ids()) == 1


def test_retry_after_is_honoured(post, worker, crm, engine):
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        crm.answer(Answer(429, {"Retry-After": "120"}))
        drain(worker)
        row = only_delivery(engine)
        assert row.due_at - row.last_attempt_at == timedelta(seconds=120)
        clock.tick(119)
        assert drain(worker) == 0
        clock.tick(2)
        assert drain(worker) == 1
    assert only_delivery(engine).state == "delivered"


def test_permanent_failure_is_a_dead_letter_at_once_and_can_be_retried(
        post, worker, crm, engine, runner):
    post(payload("e-message-agent"))
    crm.answer(Answer(422, body=b'{"error":"bad contact"}'))
    drain(worker)
    row = only_delivery(engine)
    assert row.state == "dead" and row.attempts == 1
    assert "HTTP 422" in row.last_error and "bad contact" in row.last_error
    shown = runner.invoke(cli.main, ["deliveries", "show", str(row.id)])
    assert "bad contact" in shown.output and "dead" in shown.output
    listed = runner.invoke(cli.main, ["deliveries", "list", "--state", "dead"])
    assert row.event_id in listed.output
    revived = runner.invoke(cli.main, ["deliveries", "retry", "--all"])
    assert "1 dead letter(s) pending again" in revived.output
    drain(worker)
    assert only_delivery(engine).state == "delivered"


@pytest.fixture
def one_hour_horizon(environment):
    environment["RECEIVER_RETRY_HORIZON_SECONDS"] = "3600"
    return environment


def test_dead_letter_after_the_retry_horizon(one_hour_horizon, post, worker, crm, engine):
    crm.default = Answer(503)
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        while only_delivery(engine).state == "pending":
            row = only_delivery(engine)
            clock.move_to(row.due_at)
            drain(worker)
        row = only_delivery(engine)
    assert row.state == "dead" and "gave up after" in row.last_error
    assert 10 <= row.attempts <= 13
    assert row.finished_at - row.due_at < timedelta(hours=1)  # died within the horizon


def test_order_per_conversation_holds_under_retries(post, worker, crm, engine):
    with freeze_time(T0) as clock:
        room_a = [post(payload(name)).get_json()["id"] for name in (
            "e-livechat-session-start", "e-message-visitor", "e-livechat-session-close")]
        other_room = post(room(payload("e-message-agent"), "otherRoom")).get_json()["id"]
        offline = post(payload("e-offline-message")).get_json()["id"]
        crm.answer(Answer(500))  # the first event of room A fails once
        drain(worker)
        # Room A waits behind its failed first event; the others go ahead.
        assert crm.delivered_ids() == [other_room, offline]
        clock.tick(3)
        drain(worker)
    assert crm.delivered_ids() == [other_room, offline] + room_a


def test_a_dead_letter_unblocks_its_conversation(post, worker, crm, engine):
    first = post(payload("e-message-visitor")).get_json()["id"]
    second = post(payload("e-message-agent")).get_json()["id"]
    crm.answer(Answer(400))
    drain(worker)
    assert crm.delivered_ids() == [second]
    with transaction(engine) as conn:
        states = {row.event_id: row.state for row in deliveries.list_deliveries(conn)}
    assert states == {first: "dead", second: "delivered"}


@pytest.fixture
def locked_after_delivery(environment, monkeypatch):
    """Once the CRM has the first event, the deliveries table is locked until released."""
    environment["RECEIVER_STORE_TIMEOUT_SECONDS"] = "0.3"
    held = {}

    def lock_after(deliver):
        def delivering(event):
            outcome = deliver(event)
            if "lock" not in held:
                held["lock"] = StoreLock(held["engine"], "deliveries").hold()
            return outcome
        return delivering

    def start(worker, engine):
        held["engine"] = engine
        adapter = worker.adapters["http"]
        monkeypatch.setattr(adapter, "deliver", lock_after(adapter.deliver))
        return held

    return start


def test_an_outcome_the_store_refused_is_recorded_on_a_later_try(
        locked_after_delivery, post, worker, crm, engine, monkeypatch):
    held = locked_after_delivery(worker, engine)
    waits = []

    def wait_then_release(seconds):  # the pause between tries, without the real sleep
        waits.append(seconds)
        held["lock"].release()

    monkeypatch.setattr("receiver.worker.time.sleep", wait_then_release)
    post(payload("e-message-visitor"))
    assert drain(worker) == 1
    assert len(waits) == 1  # the first try met the lock, the second recorded the outcome
    row = only_delivery(engine)
    assert (row.state, row.attempts, row.lease_owner) == ("delivered", 1, None)
    assert len(crm.delivered_ids()) == 1


def test_an_outcome_the_store_never_took_leaves_the_delivery_to_its_lease(
        locked_after_delivery, post, worker, crm, engine, monkeypatch):
    held = locked_after_delivery(worker, engine)
    monkeypatch.setattr("receiver.worker.time.sleep", lambda seconds: None)
    with freeze_time(T0) as clock:
        post(payload("e-message-visitor"))
        assert worker.step()  # every try met the lock: the outcome is given up
        held["lock"].release()
        row = only_delivery(engine)
        assert (row.state, row.lease_owner) == ("pending", worker.name)
        assert drain(worker) == 0  # still leased: nobody delivers it again yet
        clock.tick(6)
        assert drain(worker) == 1
    assert only_delivery(engine).state == "delivered"
    # Delivered twice with one id, so the CRM can tell the second is a repeat.
    assert crm.delivered_ids() == [crm.delivered_ids()[0]] * 2


def test_an_expired_lease_is_taken_over_and_the_old_claim_cannot_finish(
        app, post, worker, crm, engine):
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        # a worker that claims, then is killed
        (lost,) = deliveries.claim_due(engine, ["http"], "killed-worker", worker_now(),
                                       lease_seconds=5)
        assert drain(worker) == 0  # the lease still holds
        clock.tick(6)
        assert drain(worker) == 1
        delivered = outcomes.Outcome("delivered", attempted_at=worker_now())
        assert not outcomes.finish(engine, lost, "killed-worker", delivered, worker_now())
    row = only_delivery(engine)
    assert row.state == "delivered" and row.attempts == 2
    assert len(crm.delivered_ids()) == 1


def worker_now():
    from receiver.clock import now
    return now()


class Exploding(Adapter):
    def deliver(self, event):
        raise RuntimeError("adapter bug")


def test_an_adapter_that_raises_is_retried_not_fatal(app, post, engine):
    post(payload("e-message-agent"))
    worker = Worker(engine, {"http": Exploding(None)}, lease_seconds=5)
    assert drain(worker) == 1
    row = only_delivery(engine)
    assert row.state == "pending" and "adapter bug" in row.last_error


class Unmappable(Adapter):
    def deliver(self, event):
        agent = None
        return agent + " <agent@example.com>"  # as transcript.facts did with a deleted agent


class Unreachable(Adapter):
    def deliver(self, event):
        raise ConnectionRefusedError(111, "Connection refused")


def test_an_adapter_that_raises_a_bug_is_a_dead_letter_after_three_quick_tries(
        app, post, engine):
    worker = Worker(engine, {"http": Unmappable(None)}, lease_seconds=5)
    with freeze_time(T0) as clock:
        later = [post(payload("e-message-agent")).get_json()["id"],
                 post(payload("e-livechat-session-close")).get_json()["id"]]
        for _ in range(3):
            drain(worker)
            clock.tick(timedelta(seconds=2.5))
    # The message is a dead letter; its conversation goes on with the close.
    assert delivery_states(engine) == {later[0]: "dead", later[1]: "pending"}
    with transaction(engine) as conn:
        [row] = deliveries.list_deliveries(conn, event_id=later[0])
        [close] = deliveries.list_deliveries(conn, event_id=later[1])
    assert (row.attempts, close.attempts) == (3, 1)
    assert row.last_error == ("adapter raised TypeError: unsupported operand type(s) for +: "
                              "'NoneType' and 'str' (a dead letter after 3 quick tries)")


def test_an_adapter_that_cannot_connect_is_retried_on_the_usual_schedule(app, post, engine):
    worker = Worker(engine, {"http": Unreachable(None)}, lease_seconds=5)
    with freeze_time(T0) as clock:
        post(payload("e-message-agent"))
        for _ in range(8):
            assert drain(worker) == 1
            clock.tick(timedelta(hours=2))
    row = only_delivery(engine)
    assert row.state == "pending" and row.attempts == 8
    assert row.last_error == "adapter raised ConnectionRefusedError: [Errno 111] Connection refused"


def test_database_errors_are_logged_and_the_worker_keeps_going(caplog):
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", timeout_seconds=0.2)
    worker = Worker(engine, {"log": LogAdapter(None)}, lease_seconds=5)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    time.sleep(0.5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert "worker step failed" in caplog.text


def step_failures(engine, caplog, error: Exception) -> list:
    """The worker's `step failed` lines after one step that raised `error`."""
    worker = Worker(engine, {"log": LogAdapter(None)}, lease_seconds=5)
    stop = threading.Event()

    def failing_step():
        stop.set()  # one step, then the loop ends
        raise error

    worker.step = failing_step
    worker.run(stop)
    return [record for record in caplog.records if "worker step failed" in record.getMessage()]


def test_a_bug_in_a_step_is_logged_with_its_traceback(engine, caplog):
    [line] = step_failures(engine, caplog, KeyError("adapter"))
    assert line.exc_info and line.exc_info[0] is KeyError


def test_an_unavailable_store_is_one_line_without_a_traceback(engine, caplog):
    [line] = step_failures(engine, caplog, StoreUnavailable("connection refused"))
    assert not line.exc_info and "connection refused" in line.getMessage()


def test_workers_in_parallel_never_deliver_a_row_twice_and_keep_order(app, post, crm, engine):
    expected = {}
    for n in range(40):
        body = visitor_message(f"room{n % 5}", f"m{n}")
        expected.setdefault(f"room{n % 5}", []).append(post(body).get_json()["id"])
    crm.answer(*[Answer(500)] * 5 + [Answer(200, delay=0.01)] * 10)
    settings = current(app).settings
    workers = [build_worker(settings, engine) for _ in range(3)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(crm.delivered_ids()) < 40 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(10)
    delivered = crm.delivered_ids()
    assert sorted(delivered) == sorted(i for ids in expected.values() for i in ids)
    for ids in expected.values():
        assert in_arrival_order(delivered, ids) == ids


def test_only_the_worker_engine_commits_without_waiting_for_the_disk(database_url):
    from receiver.config import normalize_database_url

    for flush, expected in ((True, {"sqlite": 2, "postgresql": "on"}),
                            (False, {"sqlite": 1, "postgresql": "off"})):
        engine = make_engine(normalize_database_url(database_url), flush_each_commit=flush)
        with engine.connect() as conn:
            dialect = conn.dialect.name
            query = "PRAGMA synchronous" if dialect == "sqlite" else "SHOW synchronous_commit"
            assert conn.exec_driver_sql(query).scalar() == expected[dialect]
        engine.dispose()


def test_a_batch_holds_only_the_head_of_each_conversation(post, engine):
    first_of_a = post(room(payload("e-livechat-session-start"), "a")).get_json()["id"]
    post(room(payload("e-message-visitor"), "a"))
    first_of_b = post(room(payload("e-message-visitor"), "b")).get_json()["id"]
    offline = post(payload("e-offline-message")).get_json()["id"]
    post(room(payload("e-message-agent"), "b"))
    held = deliveries.claim_due(engine, ["http"], "w", worker_now(), 30, batch=10)
    assert [claim.event_id for claim in held] == [first_of_a, first_of_b, offline]
    assert all(claim.attempts == 1 for claim in held)


def test_a_worker_at_a_fast_pace_claims_in_batches_and_gives_back_the_rest_on_stop(
        post, worker, crm, engine):
    ids = rooms(post, 5)
    worker.claims.pace.add(0.001)  # a CRM answering in a millisecond: claim many at once
    assert worker.step()
    leased = leased_deliveries(engine)
    assert len(leased) == 4 and {row.lease_owner for row in leased} == {worker.name}

    stop = threading.Event()
    stop.set()
    worker.run(stop)  # stops at once, giving back what it never attempted
    with transaction(engine) as conn:
        rows = deliveries.list_deliveries(conn)
    assert not any(row.lease_owner or row.lease_expires_at for row in rows)
    assert sorted(row.attempts for row in rows) == [0, 0, 0, 0, 1]
    assert crm.delivered_ids() == ids[:1]


def test_a_slow_pace_claims_one_delivery_at_a_time(post, worker, engine):
    rooms(post, 3)
    worker.claims.pace.add(1.0)  # a CRM taking a second: leave the other rooms to other workers
    assert worker.step()
    assert leased_deliveries(engine) == []


def test_the_batch_follows_the_recent_pace():
    pace = Pace()
    assert pace.batch() == 1  # nothing known yet
    pace.add(0.010)
    assert pace.batch() == 5  # 50 ms worth
    pace.add(0.0001)
    assert pace.batch() == 6  # one fast delivery moves the average a fifth of the way
    for _ in range(40):
        pace.add(0.0001)
    assert pace.batch() == MAX_BATCH
    pace.add(2.0)
    assert pace.batch() == 1  # one slow answer is enough to stop batching


def test_a_batch_held_past_half_its_lease_is_not_delivered_on_a_lapsed_claim(
        app, post, worker, crm, engine):
    other = build_worker(current(app).settings, engine)
    with freeze_time(T0) as clock:
        ids = rooms(post, 3)
        worker.claims.pace.add(0.001)
        assert worker.step()  # claims all three rooms, delivers the first
        clock.tick(6)  # the lease (5 s) lapses, say while the CRM hung
        assert drain(other) == 2  # another worker takes the two over
        assert drain(worker) == 0  # and the first never delivers its stale claims
    assert sorted(crm.delivered_ids()) == sorted(ids)
    assert len(crm.delivered_ids()) == 3


def test_a_batch_that_slows_down_is_given_back_for_other_workers(app, post, worker, crm, engine):
    other = build_worker(current(app).settings, engine)
    with freeze_time(T0) as clock:
        ids = rooms(post, 3)
        worker.claims.pace.add(0.001)
        assert worker.step()  # claims all three rooms, delivers the first
        clock.tick(0.5)  # ten times the batch's plan: the CRM slowed down
        worker.claims.pace.seconds = 1.0
        assert worker.step()  # gives the rest back, then claims only what it can deliver
        assert drain(other) == 1  # so another worker takes the third room meanwhile
    assert sorted(crm.delivered_ids()) == sorted(ids)


def test_listings_say_what_comes_next_for_each_delivery(post, worker, crm, runner):
    delivered = post(payload("e-message-agent")).get_json()["id"]
    drain(worker)
    first = post(visitor_message("held-room", "m1")).get_json()["id"]
    crm.answer(Answer(503))
    drain(worker)  # the room's first message fails once and waits for its retry
    second = post(visitor_message("held-room", "m2")).get_json()["id"]
    listed = runner.invoke(cli.main, ["deliveries", "list"]).output.splitlines()
    assert listed[0].split() == ["ID", "STATE", "ADAPTER", "EVENT", "KIND", "ATTEMPTS", "NEXT"]
    rows = {line.split()[3]: line for line in listed[1:]}
    assert " delivered " in rows[delivered] and "due" not in rows[delivered]
    assert f"waits for {first}, earlier in its conversation" in rows[second]
    assert "due " in rows[first] and "(in " in rows[first]
    as_json = json.loads(runner.invoke(cli.main, ["deliveries", "list", "--json"]).output)
    assert {row["event_id"]: row["waiting_for"] for row in as_json} == {
        delivered: None, first: None, second: first}
    summary = json.loads(runner.invoke(cli.main, ["deliveries", "summary", "--json"]).output)
    assert sorted((row["state"], row["count"]) for row in summary) == [
        ("delivered", 1), ("pending", 2)]


def test_a_retried_dead_letter_counts_as_pending_from_the_retry(post, worker, crm, runner,
                                                                 engine):
    """Otherwise the backlog's age, and the alerts on it, would jump to the dead letter's age."""
    with freeze_time("2025-01-01T00:00:00Z"):
        post(payload("e-message-agent"))
        crm.answer(Answer(422))
        drain(worker)
    with freeze_time("2025-01-03T00:00:00Z"):
        assert "1 dead letter(s) pending again" in runner.invoke(
            cli.main, ["deliveries", "retry", "--all"]).output
        with transaction(engine) as conn:
            row = conn.execute(deliveries_table.select()).one()
    assert row.state == "pending" and row.created_at.replace(tzinfo=None).isoformat() == \
        "2025-01-03T00:00:00"


def test_a_steps_outcomes_are_recorded_together_and_a_lost_lease_drops_only_its_own(
        post, engine):
    from receiver.store import attempts, links

    ids = rooms(post, 3)
    now = worker_now()
    held = deliveries.claim_due(engine, ["http"], "w", now, 30, batch=3)
    assert [claim.event_id for claim in held] == ids
    with transaction(engine) as conn:  # the second lease lapsed and another worker took it
        conn.execute(deliveries_table.update().where(deliveries_table.c.id == held[1].id)
                     .values(lease_owner="other"))
        links.remember(conn, held[0].event["conversation"]["id"], "http", {"contact": "1"}, now)
    delivered = outcomes.Outcome("delivered", attempted_at=now, references={"note": "7"})
    retry = outcomes.Outcome("retry", attempted_at=now, reason="HTTP 503",
                             due_at=now + timedelta(seconds=2))
    kept = outcomes.finish_all(engine, [(held[0], delivered), (held[1], delivered),
                                        (held[2], retry)], "w", now)
    assert kept == [True, False, True]
    states = delivery_states(engine)
    assert [states[claim.event_id] for claim in held] == ["delivered", "pending", "pending"]
    with transaction(engine) as conn:
        history = attempts.of_deliveries(conn, [claim.id for claim in held])
        refs = {claim.id: links.known(conn.connection.driver_connection.cursor(), conn.dialect,
                                      claim.event["conversation"]["id"])
                for claim in held}
    assert [[a.outcome for a in history[claim.id]] for claim in held] == \
        [["delivered"], [], ["retry"]]
    # Record ids merge into what the conversation had; a lost lease writes none.
    assert refs[held[0].id] == {"http": {"contact": "1", "note": "7"}}
    assert refs[held[1].id] == {}


class Batching(Adapter):
    batch_size = 100

    def deliver(self, event):
        raise AssertionError("not called")


def test_an_adapter_that_batches_is_claimed_a_whole_batch_at_a_time(app, engine):
    from receiver.claims import HeldClaims

    settings = current(app).settings
    alone = HeldClaims(engine, {"hubspot": Batching(settings)}, "w", 30)
    alone.pace.add(1.0)  # a slow pace changes nothing: the batch goes in one step
    assert alone.size(["hubspot"]) == 100
    # Beside an adapter that delivers one at a time, the pace decides, as the claims of
    # that one wait behind each other in hand.
    mixed = HeldClaims(engine, {"hubspot": Batching(settings), "log": LogAdapter(settings)},
                       "w", 30)
    mixed.pace.add(1.0)
    assert mixed.size(["hubspot", "log"]) == 1
