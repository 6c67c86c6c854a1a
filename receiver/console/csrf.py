"""CSRF tokens: one random token per session, required in every console form posted."""

import hmac
import secrets

from flask import abort, request, session

from . import bp

FIELD = "csrf_token"


def token() -> str:
    """The session's token, made on first use; forms carry it in a hidden field."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


@bp.before_request
def check_token():
    """A POST without the session's token is refused with 400, before anything is done."""
    if request.method != "POST":
        return None
    expected, sent = session.get(FIELD), request.form.get(FIELD, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        abort(400, description="The form has expired or did not come from this console; "
                               "reload the page and try again.")
    return None


@bp.context_processor
def csrf_field():
    return {"csrf_token": token}
