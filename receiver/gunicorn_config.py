"""Gunicorn settings for the receiver; the project's gunicorn.conf.py loads them for `gunicorn wsgi:app`."""

import os
import shutil
import tempfile

from gunicorn.glogging import Logger

from receiver.logs import TEXT_FORMAT, log_format

# All interfaces: the web process is what a platform routes the internet to.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# The endpoint faces the internet with no proxy assumed, so a client that sends its request
# slowly or not at all must not hold a process: a sync worker waits on one socket until the
# request is whole, so two trickling clients stopped all intake. A gthread worker is no
# better: it hands a connection to a thread once its first byte arrives, and the thread
# then waits for the rest. A gevent worker reads each connection in a greenlet and serves
# the others meanwhile, with no proxy needed to buffer requests; psycopg sees the patched
# `select` and waits cooperatively too. SQLite's calls block the process while they run,
# as they did under the sync worker: commits take a millisecond, and writers queue on
# store/writelock.py, whose waits (a lock and sleeps) are patched and so yield.
worker_class = "gevent"
# Open connections per web process, slow ones included; past this a process stops
# accepting until one closes. A proxy in front should limit connections per client.
worker_connections = 1000
# The gevent worker gives a request's headers this long to arrive (and keeps an idle
# connection open as long), then closes the connection: trickled headers cost a greenlet
# for at most this long. (Set to 0, it would wait for them forever.) Rocket.Chat sends its
# headers at once, with `Connection: close`; a proxy may keep connections alive. A body has
# no deadline of its own: a stalled one keeps its greenlet until the client leaves, or the
# worker stops.
keepalive = 2
# Inside Heroku's 30 s stop window, and above the store timeout a request can spend.
graceful_timeout = 25
# A worker whose loop has not run for this long (a C call that never returns) is replaced.
timeout = 30
# Whose X-Forwarded-Proto to believe, so that a request that reached a platform's router over
# https is https to the app (the console then marks its cookie Secure). Heroku's dynos are
# reached only through its router, so app.json sets `*` there; elsewhere, the proxy's address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = None  # the receiver logs one structured line per request itself
errorlog = "-"

# gunicorn's own lines (workers booting, exiting, timing out) in the receiver's format, on
# standard output with the rest, so a platform's log search reads one kind of line.
_formatter = ({"format": TEXT_FORMAT} if log_format() == "text"
              else {"()": "receiver.logs.JsonFormatter"})
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"receiver": _formatter},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "receiver",
                             "stream": "ext://sys.stdout"}},
    # The receiver logs each request itself (observe.py), so gunicorn's access lines are dropped;
    # libraries' lines reach the root logger, and only their warnings are worth the noise.
    "root": {"level": "WARNING", "handlers": ["console"]},
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
                "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False}},
}


class QuietAccessLogger(Logger):
    """Gunicorn's logger without its access lines, which the receiver writes itself (observe.py)."""

    def access(self, resp, req, environ, request_time):
        # With a logconfig_dict, gunicorn builds every request's access atoms and log record
        # before the handler-less access logger drops them: a few percent of a request's CPU.
        return


logger_class = QuietAccessLogger

# Counters live in each web process; without a folder to share them, each scrape would
# report whichever process answered, which Prometheus reads as counter resets. So the web
# process makes one of its own when none is given (as under the Procfile's
# `gunicorn wsgi:app`), before it starts its workers, and removes it when it stops.
_own_metrics_folder = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_folder = tempfile.mkdtemp(prefix="receiver-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_folder


def on_exit(server):
    """Remove the metrics folder this web process made for itself."""
    if _own_metrics_folder:
        shutil.rmtree(_own_metrics_folder, ignore_errors=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the shared metrics folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

