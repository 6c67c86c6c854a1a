"""The console in a real headless Chromium, with JavaScript off, against real gunicorn and worker
processes and a fake CRM: every page, search, retry, replay, discard, pause, CSRF, no outside request.
"""

import json
import re
import shutil
import time

import pytest

from receiver.store import schema
from receiver.store.db import make_engine

from . import servers
from .builders import TOKEN, payload
from .crm import SECRET, Answer, FakeCrm

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "browser test password"
NAVIGATION = ["Overview", "Conversations", "Events", "Dead letters", "Quarantine", "Adapters"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def crm():
    with FakeCrm() as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory, crm):
    """gunicorn serving the console and a worker delivering to the fake CRM; the base URL."""
    folder = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{folder / 'receiver.sqlite3'}"
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    environment = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "DATABASE_URL": url,
                   "RECEIVER_ADAPTERS": "http", "RECEIVER_HTTP_URL": crm.url,
                   "RECEIVER_HTTP_SECRET": SECRET, "RECEIVER_HTTP_TIMEOUT": "2",
                   "RECEIVER_LEASE_SECONDS": "5", "RECEIVER_CONSOLE_PASSWORD": PASSWORD}
    with servers.gunicorn(environment, workers=2) as web, servers.workers(environment, 1):
        yield web.url.removesuffix("/webhooks/rocketchat")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def requests_seen():
    return []


def open_page(browser, site, requests_seen, javascript=False):
    context = browser.new_context(java_script_enabled=javascript, base_url=site)
    page = context.new_page()
    page.on("request", lambda request: requests_seen.append(request.url))
    return context, page


@pytest.fixture
def page(browser, site, requests_seen):
    """A page with JavaScript off, signed in; every request it made stayed on the site."""
    context, page = open_page(browser, site, requests_seen)
    sign_in(page)
    yield page
    context.close()
    assert requests_seen and all(url.startswith(site + "/") for url in requests_seen), \
        [url for url in requests_seen if not url.startswith(site + "/")]


def sign_in(page):
    page.goto("/console/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    shows(page, "Overview")


def shows(page, name) -> None:
    """Wait until the page's h1 is `name` (a string, or a pattern): a submitted form may
    still be on its way when the call returns."""
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text(name)


def send(site, body) -> tuple[int, dict]:
    status, answer = servers.post(f"{site}/webhooks/rocketchat", json.dumps(body).encode(), TOKEN)
    return status, json.loads(answer)


def test_sign_in_and_out(browser, site, requests_seen):
    context, page = open_page(browser, site, requests_seen)
    page.goto("/console/events")
    shows(page, "Sign in")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")  # the form works from the keyboard alone
    shows(page, "Events")
    page.get_by_role("button", name="Sign out").click()
    shows(page, "Sign in")
    page.goto("/console/")
    shows(page, "Sign in")
    context.close()


def test_every_page_through_the_navigation(page):
    for name in NAVIGATION:
        page.get_by_role("navigation", name="Console").get_by_role("link", name=name).click()
        shows(page, name)
        assert page.title().startswith(name)
    page.goto("/console/")
    # The charts are images named by their SVG titles.
    assert page.get_by_role("img", name=re.compile("^Events received")).is_visible()
    assert page.get_by_role("img", name=re.compile("^Delivery attempts")).is_visible()


def test_search_leads_to_the_conversation(page, site, crm):
    body = payload("e-livechat-session-start")
    body["_id"] = "browser-room"
    assert send(site, body)[0] == 200
    close = payload("e-livechat-session-close")
    close["_id"] = "browser-room"
    assert send(site, close)[0] == 200
    page.get_by_role("link", name="Conversations").click()
    page.get_by_label("Search").fill(body["visitor"]["name"])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="browser-room").click()
    shows(page, "Conversation browser-room")
    assert page.get_by_role("heading", name="Transcript").is_visible()
    assert page.get_by_role("cell", name="chat.started").is_visible()


def test_retry_from_dead_letters_until_the_crm_receives_it(page, site, crm):
    crm.default = Answer(400, body=b'{"error":"refused"}')
    body = payload("e-message-agent")
    body["_id"] = "dead-room"
    status, answer = send(site, body)
    assert status == 200
    event_id = answer["id"]
    page.get_by_role("link", name="Dead letters").click()
    row = page.get_by_role("row").filter(has_text=event_id)
    assert servers.wait_for(lambda: page.reload() and row.count() == 1, timeout=20)
    assert "HTTP 400" in row.inner_text()
    crm.default = Answer()
    row.get_by_role("button", name="Retry").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("will be tried again")
    sync_api.expect(row).to_have_count(0)
    assert servers.wait_for(lambda: event_id in crm.delivered_ids(), timeout=20)


def test_replay_and_discard_from_quarantine(page, site):
    first, second = payload("e-message-visitor"), payload("e-message-visitor")
    del first["messages"]
    second["messages"] = "not a list"
    assert send(site, first)[0] == 422 and send(site, second)[0] == 422
    page.get_by_role("link", name="Quarantine").click()
    rows = page.get_by_role("row").filter(has=page.get_by_role("button", name="Replay"))
    sync_api.expect(rows).to_have_count(2)
    rows.first.get_by_role("link").click()
    shows(page, re.compile("^Quarantined body"))
    assert page.get_by_role("heading", name="Raw body").is_visible()
    page.go_back()
    rows.first.get_by_role("button", name="Replay").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("still fails validation")
    rows.first.get_by_role("button", name="Discard").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("was discarded")
    sync_api.expect(rows).to_have_count(1)


def test_pause_then_resume(page, site, crm):
    crm.default = Answer()
    page.get_by_role("link", name="Adapters").click()
    adapter = page.get_by_role("row").filter(has_text="http")
    adapter.get_by_role("button", name="Pause").click()
    sync_api.expect(adapter).to_contain_text("paused")
    time.sleep(5.5)  # workers read the paused set every five seconds
    body = payload("e-message-agent")
    body["_id"] = "paused-room"
    event_id = send(site, body)[1]["id"]
    assert not servers.wait_for(lambda: event_id in crm.delivered_ids(), timeout=2)
    adapter.get_by_role("button", name="Resume").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("delivering again")
    assert servers.wait_for(lambda: event_id in crm.delivered_ids(), timeout=20)


def test_a_form_posted_without_its_csrf_token_is_refused(browser, site, requests_seen):
    context, page = open_page(browser, site, requests_seen, javascript=True)
    sign_in(page)
    page.goto("/console/adapters")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Pause").click()
    assert posted.value.status == 400
    page.goto("/console/adapters")
    assert page.get_by_role("button", name="Pause").is_visible()
    context.close()
