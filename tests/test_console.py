"""The console through Flask's test client: access, CSRF, headers, every page and action."""

import json
import logging
import re
from datetime import datetime, timezone

import pytest

from receiver import create_app
from receiver.console.access import Throttle
from receiver.state import current
from receiver.store import breakers, deliveries, pauses, quarantine
from receiver.store.transactions import transaction

from .builders import payload, room
from .delivering import drain

PASSWORD = "correct horse battery staple"
PAGES = {"/console/": "Overview", "/console/conversations": "Conversations",
         "/console/events": "Events", "/console/dead-letters": "Dead letters",
         "/console/quarantine": "Quarantine", "/console/adapters": "Adapters"}


@pytest.fixture
def environment(environment):
    environment["RECEIVER_CONSOLE_PASSWORD"] = PASSWORD
    return environment


def csrf(client, path="/console/sign-in") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def sign_in(client, password=PASSWORD):
    return client.post("/console/sign-in", data={"password": password, "csrf_token": csrf(client)})


@pytest.fixture
def console(client):
    assert sign_in(client).status_code == 302
    return client


@pytest.fixture
def waits(app):
    """The sign-in throttle's waits, recorded instead of slept."""
    slept = []
    current(app).console.throttle.sleep = slept.append
    return slept


def h1(response) -> str:
    return re.search(r"<h1>(.*?)</h1>", response.text).group(1)


def test_without_a_password_every_console_url_is_404(environment):
    del environment["RECEIVER_CONSOLE_PASSWORD"]
    client = create_app(environment).test_client()
    for path in [*PAGES, "/console", "/console/sign-in", "/console/static/console.css"]:
        assert client.get(path).status_code == 404
    assert client.post("/console/sign-in", data={"password": ""}).status_code == 404


def test_pages_need_a_session(client):
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302 and answer.location.startswith("/console/sign-in")
    assert client.post("/console/adapters/log/pause").status_code == 302


def test_signing_in_opens_every_page_with_its_heading_and_the_navigation(console):
    for path, name in PAGES.items():
        answer = console.get(path)
        assert answer.status_code == 200 and h1(answer) == name
        for label in PAGES.values():
            assert f">{label}</a>" in answer.text


def test_the_cookie_is_httponly_strict_and_secure_over_https(client):
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    https = client.application.test_client()
    token = csrf(https)
    answer = https.post("/console/sign-in", base_url="https://localhost",
                        data={"password": PASSWORD, "csrf_token": token})
    assert "Secure" in answer.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_ever_more_slowly(client, waits, caplog):
    for _ in range(6):
        answer = sign_in(client, "guess")
        assert answer.status_code == 401 and "not right" in answer.text
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert client.get("/console/").status_code == 302
    assert sign_in(client).status_code == 302
    assert client.get("/console/").status_code == 200


def test_the_throttle_forgets_after_a_quiet_while():
    now, slept = [0.0], []
    throttle = Throttle(clock=lambda: now[0], sleep=slept.append, forget=900)
    throttle.failed("a"), throttle.failed("a"), throttle.failed("b")
    now[0] = 901
    throttle.failed("a")
    assert slept == [0.5, 1.0, 0.5, 0.5]


def test_signing_out_ends_the_session(console):
    token = csrf(console, "/console/")
    assert console.post("/console/sign-out", data={"csrf_token": token}).status_code == 302
    assert console.get("/console/").status_code == 302


def test_a_session_holds_in_another_web_process_and_after_a_restart(app, environment, console):
    cookie = console.get_cookie("receiver_console", path="/console")
    other = create_app(environment).test_client()
    other.set_cookie("receiver_console", cookie.value, path="/console")
    assert other.get("/console/").status_code == 200


def test_changing_the_password_signs_everyone_out(environment, console):
    cookie = console.get_cookie("receiver_console", path="/console")
    other = create_app({**environment, "RECEIVER_CONSOLE_PASSWORD": "new one"}).test_client()
    other.set_cookie("receiver_console", cookie.value, path="/console")
    assert other.get("/console/").status_code == 302


def test_a_post_without_its_csrf_token_is_refused_and_does_nothing(console, engine):
    for data in ({}, {"csrf_token": "forged"}):
        assert console.post("/console/adapters/log/pause", data=data).status_code == 400
    with transaction(engine) as conn:
        assert pauses.paused(conn) == {}
    fresh = console.application.test_client()
    assert fresh.post("/console/sign-in", data={"password": PASSWORD}).status_code == 400


def test_pages_forbid_framing_inline_script_and_caching(console):
    answer = console.get("/console/events")
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script" not in answer.text


def test_the_webhook_opens_no_console_session(post):
    answer = post(payload("e-message-visitor"))
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers


def test_the_overview_counts_and_flags_a_paused_adapter(console, post, engine, worker):
    post(payload("e-message-visitor"))
    drain(worker)
    post(room(payload("e-message-visitor"), "other"))
    post({"type": "Message", "_id": 5})
    with transaction(engine) as conn:
        pauses.pause(conn, "log", deliveries.list_deliveries(conn)[0].due_at)
    page = console.get("/console/").text
    row = re.search(r"<tr>\s*<th scope=\"row\">log.*?</tr>", page, re.S).group(0)
    assert "paused" in row and re.findall(r'class="num">(\d+)<', row) == ["1", "1", "0"]
    assert "1 body" in page
    assert page.count("<svg") == 2 and "<title id=\"received-title\">Events received" in page


def test_search_finds_a_conversation_by_room_name_email_phone_or_token(console, post):
    body = payload("e-livechat-session-start")
    post(body)
    visitor = body["visitor"]
    room_id = body["_id"]
    terms = [room_id, visitor["name"].upper(), visitor["token"]]
    email = (visitor.get("email") or [{}])[0]
    if email:
        terms.append(email.get("address", "").upper())
    phone = (visitor.get("phone") or [{}])[0]
    if phone:
        terms.append(phone.get("phoneNumber"))
    for term in terms:
        page = console.get("/console/conversations", query_string={"q": term}).text
        assert f'href="/console/conversations/{room_id}"' in page, term
    assert "No conversation matches" in console.get(
        "/console/conversations", query_string={"q": "nobody"}).text


def test_a_conversation_shows_its_timeline_transcript_deliveries_and_records(
        console, post, engine, worker):
    for name in ("e-livechat-session-start", "e-message-visitor", "e-livechat-session-close"):
        post(payload(name))
    drain(worker)
    room_id = payload("e-livechat-session-start")["_id"]
    page = console.get(f"/console/conversations/{room_id}").text
    assert h1_text(page) == f"Conversation {room_id}"
    assert page.index("chat.started") < page.index("message.visitor") < page.index("chat.closed")
    assert page.count("log: delivered, 1 attempt") == 3
    assert "<h2>Transcript</h2>" in page and "closed" in page
    assert console.get("/console/conversations/nosuch").status_code == 404


def test_a_conversation_counts_what_rocket_chat_sent_again(console, post):
    for _ in range(3):
        post(payload("e-message-visitor"))
    room_id = payload("e-message-visitor")["_id"]
    page = console.get(f"/console/conversations/{room_id}").text
    assert '<th scope="col">Sent again</th>' in page and "<td>2 times</td>" in page


def h1_text(page: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", page).group(1)


def test_events_page_by_kind_with_older_and_newer(console, post):
    ids = [post(room(payload("e-message-visitor"), f"room{n}")).get_json()["id"]
           for n in range(55)]
    post(payload("e-livechat-session-start"))
    first = console.get("/console/events").text
    assert "Older" in first and "Newer" not in first
    older = re.search(r'href="([^"]*before=\d+)"', first).group(1).replace("&amp;", "&")
    second = console.get(older).text
    assert ids[0] in second and "Newer" in second and ids[-1] not in second
    newer = re.search(r'href="([^"]*after=\d+)"', second).group(1).replace("&amp;", "&")
    assert ids[-1] in console.get(newer).text
    starts = console.get("/console/events", query_string={"kind": "chat.started"}).text
    assert "chat.started" in starts and ids[-1] not in starts


def test_an_event_page_shows_the_record_raw_body_and_every_attempt(console, post, engine, worker):
    event_id = post(payload("e-message-visitor")).get_json()["id"]
    drain(worker)
    page = console.get(f"/console/events/{event_id}").text
    assert "Normalized record" in page and "Raw body" in page and "&#34;type&#34;" in page
    assert re.search(r'<td class="num">1</td><td>[^<]+</td><td><span class="state delivered">',
                     page)
    assert console.get("/console/events/evt_nosuch").status_code == 404


def dead_letter(post, engine) -> int:
    post(payload("e-message-visitor"))
    with transaction(engine) as conn:
        (row,) = deliveries.list_deliveries(conn)
        conn.execute(deliveries.deliveries.update().values(state="dead", last_error="HTTP 400: no"))
    return row.id


def test_retry_makes_a_dead_letter_pending_and_it_leaves_the_list(console, post, engine, caplog):
    delivery_id = dead_letter(post, engine)
    page = console.get("/console/dead-letters").text
    assert "HTTP 400: no" in page and ">Retry<" in page and ">Retry all<" in page
    with caplog.at_level(logging.INFO, "receiver.console"):
        answer = console.post(f"/console/dead-letters/{delivery_id}/retry",
                              data={"csrf_token": csrf(console, "/console/dead-letters")})
    assert answer.status_code == 302
    with transaction(engine) as conn:
        assert deliveries.get_delivery(conn, delivery_id).state == "pending"
    assert "No dead letters." in console.get("/console/dead-letters").text
    (line,) = [r for r in caplog.records if r.getMessage() == "console action"]
    assert line.fields == {"action": "retry", "client": "127.0.0.1", "delivery_id": delivery_id,
                           "revived": 1}


def test_retry_all_revives_one_adapters_dead_letters(console, post, engine):
    delivery_id = dead_letter(post, engine)
    console.post("/console/dead-letters/retry-all",
                 data={"adapter": "log", "csrf_token": csrf(console, "/console/dead-letters")})
    with transaction(engine) as conn:
        assert deliveries.get_delivery(conn, delivery_id).state == "pending"
    answer = console.post("/console/dead-letters/retry-all",
                          data={"adapter": "nosuch", "csrf_token": csrf(console, "/console/")})
    assert answer.status_code == 400


def test_replay_and_discard_from_quarantine(console, post, engine):
    bad = payload("e-message-visitor")
    del bad["messages"]
    held = post(bad)
    assert held.status_code == 422
    post({"type": "Message", "_id": 5})
    page = console.get("/console/quarantine").text
    ids = [int(n) for n in re.findall(r"#(\d+) raw body", page)]
    assert len(ids) == 2
    raw = console.get(f"/console/quarantine/{ids[0]}")
    assert raw.status_code == 200 and "Raw body" in raw.text
    token = csrf(console, "/console/quarantine")
    console.post(f"/console/quarantine/{ids[1]}/replay", data={"csrf_token": token})
    console.post(f"/console/quarantine/{ids[0]}/discard", data={"csrf_token": token})
    with transaction(engine) as conn:
        states = {row.id: row.state for row in quarantine.list_held(conn, state=None)}
    assert states[ids[0]] == "discarded" and states[ids[1]] == "held"
    assert "still fails validation" in console.get("/console/quarantine").text
    assert console.post("/console/quarantine/999/discard",
                        data={"csrf_token": token}).status_code == 404


def test_pause_and_resume_from_the_adapters_page(console, engine):
    token = csrf(console, "/console/adapters")
    assert ">Pause<" in console.get("/console/adapters").text
    console.post("/console/adapters/log/pause", data={"csrf_token": token})
    page = console.get("/console/adapters").text
    assert ">Resume<" in page and "paused" in page
    with transaction(engine) as conn:
        assert set(pauses.paused(conn)) == {"log"}
    console.post("/console/adapters/log/resume", data={"csrf_token": token})
    with transaction(engine) as conn:
        assert pauses.paused(conn) == {}
    assert console.post("/console/adapters/http/pause",
                        data={"csrf_token": token}).status_code == 400


def test_the_adapters_page_tells_the_breakers_pause_and_an_operator_can_end_it(console, engine):
    opened_at = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)
    with transaction(engine) as conn:
        breakers.open_breaker(conn, "log", opened_at, 30.0, "HTTP 503: the CRM is down")
    page = console.get("/console/adapters").text
    assert "paused automatically</span> since 2026-05-04 10:00:00 UTC: every delivery failed " \
           "(HTTP 503); next probe 2026-05-04 10:00:30 UTC" in page
    assert ">Resume<" in page
    console.post("/console/adapters/log/resume", data={"csrf_token": csrf(console, "/console/adapters")})
    page = console.get("/console/adapters").text
    assert "paused" not in page.split("<tbody>")[1] and ">Pause<" in page
    with transaction(engine) as conn:
        assert breakers.opened(conn) == {} and pauses.paused(conn) == {}


def test_adapter_checks_are_the_kept_ones_until_checked_again(console, monkeypatch):
    """The console shares /readyz's kept adapters: page views make no calls to the CRM."""
    from receiver.readiness import Check

    calls = []
    kept = current(console.application).adapter_checks
    monkeypatch.setattr(kept, "_run", lambda: calls.append(1) or {"log": Check(True, "ok: fine")})
    console.get("/console/adapters"), console.get("/console/adapters")
    console.get("/readyz?adapters=1")
    assert len(calls) == 1
    console.post("/console/adapters/check", data={"csrf_token": csrf(console, "/console/")})
    assert len(calls) == 2 and "ok: fine" in console.get("/console/adapters").text


def test_console_reads_do_not_wait_for_sqlites_write_lock(console, engine):
    from .locks import StoreLock

    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never wait for writers")
    with StoreLock(engine):
        for path in PAGES:
            if path != "/console/adapters":
                assert console.get(path).status_code == 200, path


def test_sign_in_redirects_only_into_the_console(client):
    token = csrf(client)
    answer = client.post("/console/sign-in?next=https://evil.example/",
                         data={"password": PASSWORD, "csrf_token": token})
    assert answer.location == "/console/"


def test_each_search_walks_its_index(app, engine):
    from sqlalchemy import select, text

    from receiver.store import contacts
    from receiver.store.tables import events

    dialect = engine.dialect.name
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    for field in contacts.FIELDS:
        query = select(events.c.conversation_id).where(
            contacts.column(dialect, field) == "x", contacts.indexed()).compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            if dialect == "postgresql":
                conn.execute(text("SET enable_seqscan = off"))  # an empty table is cheaper to scan
            plan = " ".join(str(row) for row in conn.execute(text(explain + str(query))))
        assert contacts.index_name(dialect, field) in plan, plan


def test_a_conversation_event_jsonb_would_refuse_is_stored_and_found_by_room(console, post):
    body = payload("e-livechat-session-start")
    body["_id"] = "odd-room"
    body["visitor"]["name"] = "Ana \u0000 \ud800"  # PostgreSQL's jsonb takes neither
    assert post(json.dumps(body)).status_code == 200
    page = console.get("/console/conversations", query_string={"q": "odd-room"}).text
    assert 'href="/console/conversations/odd-room"' in page
    # UTF-8 cannot carry the lone surrogate: the page shows "?" in its place.
    assert "Ana \x00 ?" in console.get("/console/conversations/odd-room").text


def test_hourly_counts_use_the_charts_hour_keys_on_each_database(post, engine, worker):
    from datetime import datetime, timedelta, timezone

    from freezegun import freeze_time

    from receiver.console import backlog
    from receiver.store.transactions import reading

    moment = datetime(2025, 3, 4, 10, 42, tzinfo=timezone.utc)
    with freeze_time(moment):
        post(payload("e-message-visitor"))
        drain(worker)
    with reading(engine) as conn:
        since = moment - timedelta(hours=1)
        assert backlog.events_per_hour(conn, since) == {"2025-03-04 10": 1}
        assert backlog.attempts_per_hour(conn, since) == {("2025-03-04 10", "delivered"): 1}


def test_a_database_that_is_down_gets_503_not_500(environment):
    environment["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/x"
    client = create_app(environment).test_client()
    for path in ("/console/", "/console/sign-in", "/console/events"):
        answer = client.get(path)
        assert answer.status_code in (302, 503), (path, answer.status_code, answer.text)
    assert client.post("/console/sign-in", data={"password": PASSWORD}).status_code in (400, 503)
