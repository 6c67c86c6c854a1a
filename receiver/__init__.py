"""Receives Rocket.Chat Omnichannel webhooks and delivers them to CRMs, once and in order."""

import os

from flask import Flask


def create_app(test_config=None, *, for_commands=False):
    """Build the app from the environment, or from `test_config` (a mapping of the same variables).

    `for_commands` builds it for the inspection and repair commands, which need only the
    database; `config.check_serving` then guards the commands that serve or deliver.
    """
    from . import config, console, health, logs, metrics, responses, state, webhook

    app = Flask(__name__, instance_relative_config=True)
    environ = os.environ if test_config is None else test_config
    settings = config.load_settings(environ, instance_path=app.instance_path,
                                    for_commands=for_commands)
    app.extensions[state.EXTENSION] = state.Receiver.build(settings)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    responses.init_app(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    logs.configure_logging()
    console.init_app(app, settings)
    return app
