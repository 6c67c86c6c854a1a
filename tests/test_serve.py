"""`receiver serve`: this machine only by default, private files, only its own metric files."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from . import servers
from .builders import TOKEN, payload

pytestmark = pytest.mark.slow


def dead_pid() -> int:
    """The id of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_serve_keeps_to_itself(tmp_path):
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_12345.db").write_bytes(b"another program's")
    (shared / f"serve-{dead_pid()}").mkdir()  # left by a serve that was killed
    port = servers.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--port", str(port), "--no-worker"],
        cwd=servers.ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "RECEIVER_ADAPTERS": "log",
             "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'receiver.sqlite3'}",
             "PROMETHEUS_MULTIPROC_DIR": str(shared)})
    try:
        servers.wait_until_listening(port, process)
        url = f"http://127.0.0.1:{port}/webhooks/rocketchat"
        assert servers.post(url, json.dumps(payload("e-message-visitor")).encode(), TOKEN)[0] == 200
        assert sorted(os.listdir(shared)) == ["counter_12345.db", f"serve-{process.pid}"]
        assert os.listdir(shared / f"serve-{process.pid}")  # the web workers' counters
        assert oct((tmp_path / "data").stat().st_mode & 0o777) == "0o700"
        for name in ("receiver.sqlite3", "receiver.sqlite3-wal"):
            assert oct((tmp_path / "data" / name).stat().st_mode & 0o777) == "0o600", name
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert f"receiving on http://127.0.0.1:{port}/" in output
    assert os.listdir(shared) == ["counter_12345.db"]


def test_a_busy_port_is_said_at_once(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "receiver", "serve", "--port", str(port), "--no-worker"],
            cwd=servers.ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "ROCKETCHAT_LIVECHAT_TOKEN": TOKEN,
                 "DATABASE_URL": f"sqlite:///{tmp_path / 'receiver.sqlite3'}"})
    assert result.returncode == 1 and time.monotonic() - started < 10
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "receiving on" not in result.stdout and "Traceback" not in result.stderr


def test_a_port_that_is_not_a_number_names_the_variable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "serve"], cwd=servers.ROOT, capture_output=True,
        text=True, timeout=60, env={**os.environ, "ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "PORT": "abc",
                                    "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}"})
    assert result.returncode == 2 and "PORT" in result.stderr and "'abc'" in result.stderr
    assert "Traceback" not in result.stderr
