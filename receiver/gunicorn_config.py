"""Gunicorn settings for the receiver; the project's gunicorn.conf.py loads them for `gunicorn wsgi:app`."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Inside Heroku's 30 s stop window, and above the store timeout a request can spend.
graceful_timeout = 25
timeout = 30
accesslog = None  # the receiver logs one structured line per request itself
errorlog = "-"


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the shared metrics folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
