"""Screenshots of the console for the README: the Overview and a conversation page.

    python docs/screenshots.py        (needs the test extra and /usr/bin/chromium)

Stores two days of sample conversations in a fresh SQLite file, as Rocket.Chat would have
sent them hour by hour, delivers them with the `log` adapter and to an `http` CRM that is
down, serves the console with gunicorn and saves docs/console-*.png.
"""

import json
import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from freezegun import freeze_time
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import gunicorn  # noqa: E402
from receiver import create_app  # noqa: E402
from receiver.state import current  # noqa: E402
from receiver.store import schema  # noqa: E402
from receiver.worker import build_worker  # noqa: E402

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "receiver" / "samples"
TOKEN, PASSWORD = "screenshot-token", "screenshots"
ROOM = "r7XkPq2mZ4nLb8sT3"  # the samples' room
NAMES = ["Ana Souza", "Bruno Lima", "Chen Wei", "Dana Kovacs", "Emeka Obi", "Farah Haddad"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def sample(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def conversation(room: str, visitor: str | None = None) -> list[dict]:
    """A chat's events: start, take, two messages, close, moved to `room` (and `visitor`)."""
    bodies = [sample(name) for name in ("e-livechat-session-start", "e-livechat-session-taken",
                                        "e-message-visitor", "e-message-agent",
                                        "e-livechat-session-close")]
    for body in bodies:
        body["_id"] = room
        if visitor:
            body["visitor"]["name"] = visitor
            body["visitor"]["token"] = f"token-{room}"
        for message in body.get("messages") or []:
            message["_id"] = f"{room}-{message['_id']}"
    return bodies


def fill(app, now: datetime) -> None:
    """Two days of conversations, each stored and delivered in its own hour."""
    client, worker = app.test_client(), build_worker(current(app).settings,
                                                     current(app).engine)
    chooser = random.Random(19)
    headers = {"Content-Type": "application/json", "X-RocketChat-Livechat-Token": TOKEN}
    top = now.replace(minute=0, second=0, microsecond=0)
    for hour in range(47, -1, -1):
        # Within its own clock hour, and never later than now.
        minute = chooser.randint(0, now.minute if hour == 0 else 59)
        with freeze_time(top - timedelta(hours=hour) + timedelta(minutes=minute)):
            for n in range(chooser.randint(1, 4) if 8 <= (now.hour - hour) % 24 <= 20 else 1):
                room = f"room-{hour}-{n}"
                for body in conversation(room, chooser.choice(NAMES)):
                    client.post("/webhooks/rocketchat", data=json.dumps(body), headers=headers)
            while worker.step():
                pass
    for body in conversation(ROOM):
        client.post("/webhooks/rocketchat", data=json.dumps(body), headers=headers)
    while worker.step():
        pass
    bad = sample("e-message-visitor")
    del bad["messages"]
    client.post("/webhooks/rocketchat", data=json.dumps(bad), headers=headers)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        # `http` points at a closed local port: a CRM that is down, so the pictures show
        # retries and a backlog next to the deliveries that went through.
        environment = {"ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "RECEIVER_ADAPTERS": "log,http",
                       "RECEIVER_HTTP_URL": "http://127.0.0.1:9/events",
                       "RECEIVER_HTTP_TIMEOUT": "1",
                       "DATABASE_URL": f"sqlite:///{folder}/receiver.sqlite3",
                       "RECEIVER_CONSOLE_PASSWORD": PASSWORD, "RECEIVER_LOG_LEVEL": "WARNING"}
        app = create_app(environment)
        schema.upgrade(current(app).engine)
        fill(app, datetime.now(timezone.utc))
        current(app).engine.dispose()
        with gunicorn("wsgi:app", environment, workers=1) as (url, _):
            site = url.removesuffix("/webhooks/rocketchat")
            shoot(site)


def shoot(site: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(base_url=site, viewport={"width": 1200, "height": 900},
                                java_script_enabled=False)
        page.goto("/console/")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.screenshot(path=HERE / "console-overview.png", full_page=True)
        page.goto(f"/console/conversations/{ROOM}")
        page.screenshot(path=HERE / "console-conversation.png", full_page=True)
        browser.close()
    print("saved", HERE / "console-overview.png", HERE / "console-conversation.png")


if __name__ == "__main__":
    main()
