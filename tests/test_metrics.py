"""/metrics: counters that move as events flow, backlog gauges from the store, several workers."""

import json
import threading
import urllib.request

import pytest
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from receiver.backlog import BACKLOG_SECONDS, STATEMENTS

from . import servers
from .builders import TOKEN, payload
from .crm import Answer
from .delivering import delivering_to, drain

SCRAPER = {"Authorization": "Bearer scrape-me"}


def samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of every sample."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def scrape(client):
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture
def environment(environment, crm):
    environment["RECEIVER_METRICS_TOKEN"] = "scrape-me"
    return delivering_to(environment, crm, timeout="1", lease="5")


def test_event_counters_follow_outcomes(client, post):
    before = scrape(client)
    post(payload("e-livechat-session-close"))
    post(payload("e-livechat-session-close"))
    post(payload("e-message-agent"), token="wrong")
    post({"type": "Message", "_id": "r"})
    post(b"not json")
    after = scrape(client)

    def delta(**labels):
        return (value(after, "receiver_events_received_total", **labels)
                - value(before, "receiver_events_received_total", **labels))

    assert delta(type="LivechatSession", outcome="accepted") == 1
    assert delta(type="LivechatSession", outcome="duplicate") == 1
    assert delta(type="", outcome="unauthorized") == 1
    assert delta(type="Message", outcome="quarantined") == 1
    assert delta(type="", outcome="bad_body") == 1
    assert (value(after, "receiver_request_duration_seconds_count")
            - value(before, "receiver_request_duration_seconds_count")) == 5


def test_unknown_types_share_one_label_and_an_outcome_of_their_own(client, post):
    labels = {"type": "unknown", "outcome": "unknown_type"}
    before = value(scrape(client), "receiver_events_received_total", **labels)
    for n in range(20):
        post({"type": f"MadeUp{n}", "_id": f"room{n}"})
    text = scrape(client)
    assert value(text, "receiver_events_received_total", **labels) == before + 20
    assert 'type="MadeUp' not in text


def test_backlog_gauges_come_from_the_store(client, post, worker, crm):
    post(payload("e-message-visitor"))
    post(payload("e-offline-message"))
    post({"type": "Message", "_id": "r"})
    with freeze_time(tick=True) as frozen:
        text = scrape(client)
        assert value(text, "receiver_deliveries_pending", adapter="http") == 2
        assert value(text, "receiver_oldest_pending_delivery_age_seconds", adapter="http") >= 0
        assert value(text, "receiver_quarantine_held") == 1
        before = value(text, "receiver_deliveries_total", adapter="http", outcome="failed")
        crm.answer(Answer(200), Answer(400))
        drain(worker)
        frozen.tick(2 * BACKLOG_SECONDS)
        text = scrape(client)
    assert value(text, "receiver_deliveries_pending", adapter="http") == 0
    assert value(text, "receiver_dead_letters", adapter="http") == 1
    assert value(text, "receiver_deliveries_total", adapter="http", outcome="failed") == before + 1


def test_backlog_is_read_once_per_interval(client, post):
    with freeze_time(tick=True) as frozen:
        post(payload("e-message-visitor"))
        assert value(scrape(client), "receiver_deliveries_pending", adapter="http") == 1
        post(payload("e-offline-message"))
        frozen.tick(BACKLOG_SECONDS - 1)
        assert value(scrape(client), "receiver_deliveries_pending", adapter="http") == 1
        frozen.tick(2)
        assert value(scrape(client), "receiver_deliveries_pending", adapter="http") == 2


def test_concurrent_scrapes_read_the_backlog_once(client, engine):
    backlog_reads = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        if "FROM deliveries" in statement and "GROUP BY" in statement:
            backlog_reads.append(statement)

    scrapers = [threading.Thread(target=scrape, args=(client,)) for _ in range(8)]
    for scraper in scrapers:
        scraper.start()
    for scraper in scrapers:
        scraper.join()
    assert len(backlog_reads) == 2  # pending and dead, once


def test_backlog_statements_read_only_their_indexes(app, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner picks by its statistics")
    with engine.connect() as conn:
        for statement in STATEMENTS:
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            plan = " ".join(row[-1] for row in rows)
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan


def test_metrics_are_off_without_a_token(environment):
    from receiver import create_app
    del environment["RECEIVER_METRICS_TOKEN"]
    client = create_app(environment).test_client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_token(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers=SCRAPER).status_code == 200


def test_metrics_still_answer_when_the_store_is_down(environment):
    from receiver import create_app
    environment["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/none"
    environment["RECEIVER_STORE_TIMEOUT_SECONDS"] = "1"
    text = scrape(create_app(environment).test_client())
    assert value(text, "receiver_store_up") == 0
    assert "receiver_request_duration_seconds" in text


@pytest.mark.slow
def test_counters_add_up_across_gunicorn_workers(app, environment, tmp_path):
    environment["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    bodies = []
    for n in range(30):
        body = payload("e-message-visitor")
        body["messages"][0]["_id"] = f"metrics{n}"
        bodies.append(json.dumps(body).encode())
    with servers.gunicorn(environment, workers=3) as web:
        for body in bodies:
            assert servers.post(web.url, body, TOKEN)[0] == 200
        metrics_url = web.url.replace("/webhooks/rocketchat", "/metrics")
        scrapes = [urllib.request.urlopen(urllib.request.Request(metrics_url, headers=SCRAPER))
                   .read().decode() for _ in range(6)]
    for text in scrapes:  # whichever worker answers, it reports all of them
        assert value(text, "receiver_events_received_total", type="Message", outcome="accepted") == 30
        assert value(text, "receiver_deliveries_pending", adapter="http") == 30


def test_a_drained_backlog_reads_zero_for_every_configured_adapter(client):
    text = scrape(client)
    present = samples(text)
    for name in ("receiver_deliveries_pending", "receiver_oldest_pending_delivery_age_seconds",
                 "receiver_dead_letters"):
        assert present[(name, frozenset({"adapter": "http"}.items()))] == 0


def test_the_procfiles_web_process_shares_its_counters_by_itself(app, environment, monkeypatch,
                                                                 tmp_path):
    """`gunicorn wsgi:app` with no PROMETHEUS_MULTIPROC_DIR makes a folder for its workers'
    counters, so every scrape sums them all, and removes it when it stops."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    environment["TMPDIR"] = str(tmp_path)
    with servers.gunicorn(environment, workers=3) as web:
        for n in range(12):
            body = payload("e-message-visitor")
            body["messages"][0]["_id"] = f"procfile{n}"
            assert servers.post(web.url, json.dumps(body).encode(), TOKEN)[0] == 200
        metrics_url = web.url.replace("/webhooks/rocketchat", "/metrics")
        text = urllib.request.urlopen(urllib.request.Request(metrics_url, headers=SCRAPER)).read()
        (folder,) = tmp_path.glob("receiver-metrics-*")
        assert list(folder.glob("counter_*.db"))  # the workers' counters, shared
    assert value(text.decode(), "receiver_events_received_total", type="Message",
                 outcome="accepted") == 12
    assert not folder.exists()
