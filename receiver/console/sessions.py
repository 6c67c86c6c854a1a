"""Console sessions: Flask's signed cookie, keyed from the database, for /console only."""

from datetime import timedelta

from flask import request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from ..store.transactions import StoreUnavailable
from . import keys

COOKIE = "receiver_console"
LIFETIME = timedelta(hours=12)


def in_console() -> bool:
    return request.path == "/console" or request.path.startswith("/console/")


class ConsoleSessions(SecureCookieSessionInterface):
    """Sessions only on console requests; the webhook and health checks never open one."""

    def get_signing_serializer(self, app):
        return URLSafeTimedSerializer(keys.signing_key(), salt=self.salt,
                                      serializer=self.serializer,
                                      signer_kwargs={"key_derivation": self.key_derivation,
                                                     "digest_method": self.digest_method})

    def open_session(self, app, request):
        if not in_console():
            return self.make_null_session(app)
        try:
            return super().open_session(app, request)
        except StoreUnavailable:
            # The signing key lives in the database: without it, no session, and the page's
            # own read of the store answers 503 as every store failure does.
            return self.make_null_session(app)

    def save_session(self, app, session, response):
        if in_console():
            super().save_session(app, session, response)

    def get_cookie_secure(self, app) -> bool:
        # Secure whenever the console is reached over https, so the cookie never leaks to http.
        return request.is_secure


def init_app(app) -> None:
    """Cookie flags: HttpOnly, SameSite=Strict, scoped to /console, twelve hours long."""
    app.config.update(SESSION_COOKIE_NAME=COOKIE, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_PATH="/console",
                      PERMANENT_SESSION_LIFETIME=LIFETIME)
    app.session_interface = ConsoleSessions()
