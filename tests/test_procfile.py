"""A Heroku-style deploy, end to end: install from requirements.txt alone, then run the Procfile.

As Heroku's Python buildpack does, a fresh virtual environment gets `pip install -r
requirements.txt` and nothing else; then the Procfile's `release`, `web` and `worker` lines
run as written, with `PORT`, `WEB_CONCURRENCY` and a `postgres://…?sslmode=require`
`DATABASE_URL` on a server that refuses connections without TLS, as Heroku Postgres does.
Heroku stops a dyno with SIGTERM to every process in it and SIGKILL 30 s later
(https://devcenter.heroku.com/articles/dynos#shutdown): both processes must be gone by then.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from receiver.store.schema import head_revision

from .servers import ROOT, free_port, wait_for, wait_until_listening
from .tls_postgres import tls_postgres

pytestmark = pytest.mark.slow

TOKEN = "deploy-token"
HEROKU_STOP_SECONDS = 30


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): command.strip()
            for name, _, command in (line.partition(":") for line in lines if line.strip())}


@pytest.fixture(scope="module")
def slug(tmp_path_factory):
    """A virtual environment holding what `pip install -r requirements.txt` installs."""
    venv = tmp_path_factory.mktemp("slug") / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    installed = subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", "requirements.txt"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv


@pytest.fixture
def database_url(tmp_path):
    """A Heroku-style URL: the `postgres://` scheme, TLS required."""
    import trustme

    certificate = trustme.CA().issue_cert("127.0.0.1", "localhost")
    with tls_postgres(certificate) as url:
        yield url.replace("postgresql://", "postgres://", 1) + "?sslmode=require"


def dyno_environment(slug, database_url, tmp_path) -> dict:
    """What a dyno's processes see: the platform's variables and the app's config vars only."""
    return {
        "PATH": f"{slug / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
        "PORT": str(free_port()), "WEB_CONCURRENCY": "2", "DATABASE_URL": database_url,
        "ROCKETCHAT_LIVECHAT_TOKEN": TOKEN, "RECEIVER_ADAPTERS": "jsonl",
        "RECEIVER_JSONL_PATH": str(tmp_path / "crm.jsonl"),
    }


def start(command: str, environment: dict, log) -> subprocess.Popen:
    """One Procfile line, through a shell as the platform runs it, in a process group of its own."""
    return subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=ROOT, env=environment,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_dyno(processes) -> dict[str, float]:
    """SIGTERM to every process of each, as a dyno restart sends it; seconds each took to exit."""
    started = time.monotonic()
    for process in processes.values():
        os.killpg(process.pid, signal.SIGTERM)
    took = {}
    for name, process in processes.items():
        try:
            process.wait(max(0.1, HEROKU_STOP_SECONDS - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # what the platform does at 30 s
            process.wait()
        took[name] = time.monotonic() - started
    return took


def delivered(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_install_release_web_worker_send_test_stop(slug, database_url, tmp_path):
    lines, environment = procfile(), dyno_environment(slug, database_url, tmp_path)
    release = subprocess.run(["bash", "-c", lines["release"]], cwd=ROOT, env=environment,
                             capture_output=True, text=True, timeout=120)
    assert release.returncode == 0, release.stderr[-2000:]
    assert f"database at revision {head_revision()}" in release.stdout

    logs = {name: open(tmp_path / f"{name}.log", "w+") for name in ("web", "worker")}
    processes = {name: start(lines[name], environment, logs[name]) for name in logs}
    try:
        wait_until_listening(int(environment["PORT"]), processes["web"])
        url = f"http://127.0.0.1:{environment['PORT']}/webhooks/rocketchat"
        proof = subprocess.run(["receiver", "send-test", url, "--token", TOKEN], cwd=tmp_path,
                               env=environment, capture_output=True, text=True, timeout=60)
        assert proof.returncode == 0, proof.stdout + proof.stderr
        assert "1 of 1 accepted" in proof.stdout
        jsonl = tmp_path / "crm.jsonl"
        assert wait_for(lambda: delivered(jsonl), timeout=30), "the worker delivered nothing"
    finally:
        took = stop_dyno(processes)
    assert [event["test"] for event in delivered(jsonl)] == [True]
    assert {name: process.returncode for name, process in processes.items()} == {
        "web": 0, "worker": 0}, took
    assert max(took.values()) < HEROKU_STOP_SECONDS
    # Both processes log to standard output, one JSON object a line, gunicorn's own lines
    # included, for the platform to collect.
    for name, entry in (("web", "webhook"), ("worker", "delivery")):
        logs[name].seek(0)
        messages = [json.loads(line)["message"] for line in logs[name] if line.strip()]
        assert entry in messages, f"no {entry!r} line in the {name} log"
