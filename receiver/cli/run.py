"""Commands that run processes: serve, worker, and the schema migration."""

import os
import signal
import subprocess
import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..config import get_settings
from ..logs import configure_logging
from ..store import schema
from ..store.db import get_engine, make_engine
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
    # No pre-ping: a stale connection fails one step, which the loop logs and retries on
    # a fresh connection; a ping per claim would cost a round trip on every delivery.
    engine = make_engine(settings.database_url, timeout_seconds=settings.store_timeout_seconds,
                         pre_ping=False)
    delivering = build_worker(settings, engine)
    if once:
        while delivering.step():
            pass
        return
    stop = threading.Event()
    # Handlers only set the flag: the delivery in hand finishes, then the loop ends.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    delivering.run(stop)


def _worker_hooks() -> dict:
    """Gunicorn hooks that run `receiver worker` beside the web workers."""
    child = {}

    def when_ready(server):
        child["process"] = subprocess.Popen([sys.executable, "-m", "receiver", "worker"])

    def on_exit(server):
        process = child.get("process")
        if process and process.poll() is None:
            process.terminate()
            process.wait(30)

    return {"when_ready": when_ready, "on_exit": on_exit}


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")),
              show_default="$PORT or 8000")
@click.option("--workers", type=int, default=None,
              help="web processes (default $WEB_CONCURRENCY or 2)")
@click.option("--no-worker", is_flag=True, help="serve the endpoint only; deliver elsewhere")
@with_appcontext
def serve(host, port, workers, no_worker):
    """Run the webhook endpoint and the delivery worker on one machine."""
    configure_logging()
    from ..serve import EmbeddedGunicorn, default_workers, gunicorn_options

    app = current_app._get_current_object()
    schema.upgrade(get_engine())
    # Forked processes must not share the parent's database connections.
    get_engine().dispose()
    hooks = {} if no_worker else _worker_hooks()
    options = gunicorn_options(host, port, workers or default_workers(), hooks)
    click.echo(f"receiving on http://{host}:{port}/webhooks/rocketchat")
    EmbeddedGunicorn(app, options).run()
