"""The `serve` command: the webhook endpoint and a delivery worker on one machine."""

import os
import shutil

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import supervise
from ..config import check_serving
from ..logs import configure_logging
from ..state import current
from ..store import schema


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
    check_serving(current().settings)
    # Said at once, rather than after gunicorn's retries.
    problem = supervise.port_problem(host, port)
    if problem:
        raise click.ClickException(problem)
    configure_logging()
    schema.upgrade(current().engine)
    metrics_dir = supervise.own_metrics_folder(
        os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        or os.path.join(current_app.instance_path, "metrics"))
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    try:
        code = supervise.supervise(
            supervise.commands(host, port, workers, with_worker=not no_worker), env,
            ready=lambda: supervise.listening(host, port),
            announce=f"receiving on http://{host}:{port}/webhooks/rocketchat", say=click.echo)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    raise SystemExit(code)
