"""Runs the web endpoint under gunicorn from inside the `receiver` command."""

import os

from gunicorn.app.base import BaseApplication


class EmbeddedGunicorn(BaseApplication):
    """Gunicorn serving an already-built Flask app, configured from a dict."""

    def __init__(self, app, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def gunicorn_options(host: str, port: int, workers: int, hooks: dict) -> dict:
    """Settings for one machine: a few sync workers, logs to stdout."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "errorlog": "-",
        "graceful_timeout": 25,  # inside Heroku's 30 s stop window
        **hooks,
    }


def default_workers() -> int:
    """Heroku's WEB_CONCURRENCY convention, else two."""
    return int(os.environ.get("WEB_CONCURRENCY", "2"))
