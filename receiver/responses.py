"""JSON error answers, and the app-wide handlers that guarantee one for every failure."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .jsontext import StrictJSONProvider
from .state import current
from .store.transactions import StoreUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def error_response(status: int, message: str, **details):
    """A `{"success": false, "error": ...}` body with the given status."""
    response = jsonify(success=False, error=message, **details)
    response.status_code = status
    return response


def unavailable(message: str):
    """A 503 the sender will retry."""
    response = error_response(503, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_app(app) -> None:
    """Answer every error as strict JSON, and never with a 500."""
    app.json = StrictJSONProvider(app)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        limit = current().settings.max_body_bytes
        return error_response(413, f"the body is larger than the {limit}-byte limit "
                                   "(RECEIVER_MAX_BODY_BYTES)")

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(error):
        log.warning("store unavailable: %s", error)
        # A schema this release cannot use fails every request alike: say how to fix it, once.
        receiver = current()
        receiver.upgrade_notice.explain(receiver.engine, error)
        return unavailable("the store cannot take the event right now; retry later")

    @app.errorhandler(HTTPException)
    def http_error(error):
        return error_response(error.code or 400, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error):
        # A 503 makes the sender retry, so a transient fault loses nothing.
        log.exception("unexpected error while handling a request")
        return unavailable("the receiver hit an unexpected error; retry later")
