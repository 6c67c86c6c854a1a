"""The operator console at /console/: pages over the store, and actions on what is stuck."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

PASSWORD_VARIABLE = "RECEIVER_CONSOLE_PASSWORD"


def init_app(app, settings) -> None:
    """Serve the console when RECEIVER_CONSOLE_PASSWORD is set; without it, /console is 404."""
    password = settings.environ.get(PASSWORD_VARIABLE) or ""
    if not password:
        return
    from . import access, actions, csrf, headers, pages, sessions  # noqa: F401  routes

    access.init_app(app, password)
    sessions.init_app(app)
    app.register_blueprint(bp)
