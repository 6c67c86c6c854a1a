"""Commands that run processes: serve, worker, and the schema migration."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..config import check_serving, get_settings
from ..logs import configure_logging
from ..store import schema
from ..store.db import get_engine, make_worker_engine
from ..worker import build_worker


@click.group(cls=AppGroup)
def db():
    """Manage the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision):
    """Create or migrate the tables (the Procfile's release step)."""
    schema.upgrade(get_engine(), revision)
    click.echo(f"database at revision {schema.current_revision(get_engine())}")


@click.command()
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@with_appcontext
def worker(once):
    """Deliver stored events to the configured adapters until SIGTERM or SIGINT."""
    configure_logging()
    settings = get_settings()
    check_serving(settings)
    engine = make_worker_engine(settings.database_url, settings.store_timeout_seconds)
    delivering = build_worker(settings, engine)
    if once:
        while delivering.step():
            pass
        return
    stop = threading.Event()
    # Handlers only set the flag: the delivery in hand finishes, by its deadline (under half
    # the lease), then the loop ends.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    delivering.run(stop)


def refuse_a_busy_port(host: str, port: int) -> None:
    """Say at once that something already listens there, rather than after gunicorn's retries."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise click.ClickException(
                f"cannot listen on {host}:{port}: {error.strerror}; stop what holds the port, "
                "or choose another with --port or PORT") from None


def listening(host: str, port: int) -> bool:
    """Whether the web process accepts connections yet."""
    address = "127.0.0.1" if host in ("0.0.0.0", "") else host
    try:
        socket.create_connection((address, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _supervise(commands: dict, env: dict, ready=lambda: True, announce: str = "") -> int:
    """Run the commands as child processes until one exits or a stop signal comes.

    `announce` is printed once `ready()` holds, so it is never said of a server that failed.
    """
    children = {name: subprocess.Popen(command, env=env) for name, command in commands.items()}
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set() and all(child.poll() is None for child in children.values()):
        if announce and ready():
            click.echo(announce)
            announce = ""
        stop.wait(0.1 if announce else 0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()  # each finishes what it has in hand, then exits
    codes = {name: _stopped(child) for name, child in children.items()}
    return 0 if stop.is_set() else max(abs(code) for code in codes.values()) or 1


def _stopped(child: subprocess.Popen, grace: float = 30) -> int:
    """Its exit code once it has finished what it had in hand; killed if it takes longer."""
    try:
        return child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        return child.wait()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, running
        pass
    return True


def own_metrics_folder(shared: str) -> str:
    """A fresh `serve-<pid>` folder in `shared` for this run's metric files.

    Other programs may keep their own metric files in a PROMETHEUS_MULTIPROC_DIR, and two
    `receiver serve` may share one, so this only clears folders of earlier runs whose
    process is gone; the counters restart with the processes.
    """
    os.makedirs(shared, mode=0o700, exist_ok=True)
    for name in os.listdir(shared):
        pid = name.removeprefix("serve-")
        if name.startswith("serve-") and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(os.path.join(shared, name), ignore_errors=True)
        elif name.endswith(f"_{os.getpid()}.db"):  # this process's own, made on import
            os.remove(os.path.join(shared, name))
    mine = os.path.join(shared, f"serve-{os.getpid()}")
    shutil.rmtree(mine, ignore_errors=True)
    os.mkdir(mine, mode=0o700)
    return mine


@click.command()
# This machine only, unless asked: a quick start is not exposed by surprise. Rocket.Chat
# on another machine needs `--host 0.0.0.0` (or a proxy on this one).
@click.option("--host", default="127.0.0.1", show_default=True,
              help="0.0.0.0 to accept connections from other machines")
@click.option("--port", type=click.IntRange(1, 65535), envvar="PORT", default=8000,
              show_default=True, show_envvar=True)
@click.option("--workers", type=click.IntRange(min=1), envvar="WEB_CONCURRENCY", default=2,
              show_default=True, show_envvar=True, help="web processes")
@click.option("--no-worker", is_flag=True, help="serve the endpoint only; deliver elsewhere")
@with_appcontext
def serve(host, port, workers, no_worker):
    """Run the webhook endpoint (gunicorn) and a delivery worker on one machine."""
    check_serving(get_settings())
    refuse_a_busy_port(host, port)
    configure_logging()
    schema.upgrade(get_engine())
    metrics_dir = own_metrics_folder(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        current_app.instance_path, "metrics"))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    commands = {"web": [sys.executable, "-m", "gunicorn", "receiver:create_app()",
                        "--config", "python:receiver.gunicorn_config",
                        "--bind", f"{host}:{port}", "--workers", str(workers)]}
    if not no_worker:
        commands["worker"] = [sys.executable, "-m", "receiver", "worker"]
    try:
        code = _supervise(commands, env, ready=lambda: listening(host, port),
                          announce=f"receiving on http://{host}:{port}/webhooks/rocketchat")
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    raise SystemExit(code)
