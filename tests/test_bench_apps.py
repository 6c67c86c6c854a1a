"""The benchmark's baseline apps still answer as the receiver does, so its ratios stay meaningful."""

import importlib
import json
import sqlite3

import pytest

from .builders import payload

TOKEN = "bench-token"


@pytest.fixture
def floor_apps(tmp_path, monkeypatch):
    """bench's bare, bare+commit and schema+commit apps over a fresh SQLite file."""
    path = tmp_path / "bench.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE bare_bodies (id TEXT PRIMARY KEY, raw TEXT NOT NULL)")
    monkeypatch.setenv("ROCKETCHAT_LIVECHAT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    modules = [importlib.reload(importlib.import_module(f"bench.{name}"))
               for name in ("bare_app", "bare_commit_app", "schema_commit_app")]
    return {module.__name__: module.app for module in modules}, path


def test_each_app_answers_a_valid_body_and_the_floors_commit_it(floor_apps):
    apps, path = floor_apps
    body = json.dumps(payload("e-message-visitor"))
    for name, app in apps.items():
        answer = app.test_client().post("/webhooks/rocketchat", data=body,
                                        headers={"X-RocketChat-Livechat-Token": TOKEN})
        assert answer.status_code == 200, name
        assert answer.get_json() == {"success": True, "type": "Message"}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM bare_bodies").fetchone() == (2,)


def test_each_app_refuses_a_wrong_token(floor_apps):
    apps, _ = floor_apps
    for app in apps.values():
        assert app.test_client().post("/webhooks/rocketchat", data="{}").status_code == 401
