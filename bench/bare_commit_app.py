"""The floor of a durable receiver: bare Flask plus one flushed INSERT of the raw body per request.

Run by bench/ingest.py, which creates the `bare_bodies` table first. Each process keeps one
connection: SQLite in WAL mode with synchronous=FULL, or PostgreSQL autocommitting, so every
answer follows a commit on disk, as the receiver's do. SQLite writers queue on a lock file
like the receiver's, not in SQLite's busy handler, whose sleeps would leave the CPU idle and
understate the floor.
"""

import contextlib
import fcntl
import hmac
import json
import os
import sqlite3
import uuid

from flask import Flask, jsonify, request

TOKEN = os.environ["ROCKETCHAT_LIVECHAT_TOKEN"].encode()
URL = os.environ["DATABASE_URL"]
_connection = None
_lock_path = (URL.removeprefix("sqlite:///") + "-bare-writelock"
              if URL.startswith("sqlite:///") else None)


def connection():
    global _connection
    if _connection is None:
        if URL.startswith("sqlite:///"):
            _connection = sqlite3.connect(URL.removeprefix("sqlite:///"), isolation_level=None,
                                          timeout=3)
            _connection.execute("PRAGMA journal_mode=WAL")
            _connection.execute("PRAGMA synchronous=FULL")
        else:
            import psycopg

            _connection = psycopg.connect(URL, autocommit=True)
    return _connection


def make_app(check=None) -> Flask:
    """The floor app; `check(body)`, if given, runs on each parsed body before the INSERT."""
    floor = Flask(__name__)

    @floor.post("/webhooks/rocketchat")
    def receive():
        presented = request.headers.get("X-RocketChat-Livechat-Token", "").encode()
        if not hmac.compare_digest(presented, TOKEN):
            return jsonify(success=False), 401
        raw = request.get_data()
        body = json.loads(raw)
        if check is not None:
            check(body)
        conn = connection()
        marker = "?" if isinstance(conn, sqlite3.Connection) else "%s"
        with writer_lock():
            conn.execute(f"INSERT INTO bare_bodies (id, raw) VALUES ({marker}, {marker})",
                         (uuid.uuid4().hex, raw.decode()))
        return jsonify(success=True, type=body.get("type"))

    return floor


app = make_app()


@contextlib.contextmanager
def writer_lock():
    """On SQLite, one writer at a time across processes; PostgreSQL needs nothing."""
    if _lock_path is None:
        yield
        return
    with open(_lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
