"""The `worker` command: deliver stored events until stopped."""

import signal
import threading

import click
from flask.cli import with_appcontext

from ..config import check_serving
from ..logs import configure_logging
from ..state import current
from ..store.db import make_worker_engine
from ..worker import build_worker


@click.command()
@click.option("--once", is_flag=True, help="deliver what is due now, then exit")
@with_appcontext
def worker(once):
    """Deliver stored events to the configured adapters until SIGTERM or SIGINT."""
    configure_logging()
    settings = current().settings
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
