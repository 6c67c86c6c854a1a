"""Who may use the console: the password, checked in constant time, with failures slowed down."""

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field

from flask import redirect, render_template, request, session, url_for

from ..logs import fields
from ..state import current
from . import bp, keys

log = logging.getLogger(__name__)
OPEN_ENDPOINTS = {"console.sign_in", "console.static"}


class Throttle:
    """Failed sign-ins per client address: each failure answers later than the one before.

    The wait doubles from half a second up to `longest` and is forgotten after `forget`
    seconds without failures. Under gunicorn's gevent workers the wait holds one greenlet,
    not a worker process, so other requests are answered meanwhile.
    """

    def __init__(self, first: float = 0.5, longest: float = 8.0, forget: float = 900.0,
                 clock=time.monotonic, sleep=time.sleep, size: int = 10_000):
        self.first, self.longest, self.forget = first, longest, forget
        self.clock, self.sleep, self.size = clock, sleep, size
        self.failures: dict[str, tuple[int, float]] = {}

    def failed(self, client: str) -> float:
        """Count a failure of `client` and wait it out; the seconds waited."""
        now = self.clock()
        count, last = self.failures.get(client, (0, now))
        if now - last > self.forget:
            count = 0
        if len(self.failures) >= self.size:
            self.failures.clear()  # bounded memory under a spray of addresses
        self.failures[client] = (count + 1, now)
        wait = min(self.first * 2 ** count, self.longest)
        self.sleep(wait)
        return wait

    def succeeded(self, client: str) -> None:
        self.failures.pop(client, None)


@dataclass
class Access:
    """The console's part of the app's state: its password, sign-in throttle and session key."""

    password: bytes
    throttle: Throttle = field(default_factory=Throttle)
    signing_key: str | None = None  # read from the database on first use (keys.py)


def init_app(app, password: str) -> None:
    current(app).console = Access(password.encode())


def _password() -> bytes:
    return current().console.password


def throttle() -> Throttle:
    return current().console.throttle


def fingerprint() -> str:
    """What a session holds to prove sign-in; changing the password signs everyone out."""
    return hmac.new(keys.signing_key().encode(), _password(), hashlib.sha256).hexdigest()


def signed_in() -> bool:
    held = session.get("signed_in", "")
    return bool(held) and hmac.compare_digest(held, fingerprint())


@bp.before_request
def require_sign_in():
    """Every console page but the sign-in form and its stylesheet needs a session."""
    if request.endpoint in OPEN_ENDPOINTS or signed_in():
        return None
    return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str:
    # Only back into the console: never an open redirect to another site.
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.overview")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in form, and its answer."""
    error = None
    if request.method == "POST":
        client = request.remote_addr or "-"
        given = request.form.get("password", "").encode()
        if hmac.compare_digest(given, _password()):
            throttle().succeeded(client)
            session.clear()
            session.permanent = True
            session["signed_in"] = fingerprint()
            log.info("console sign-in", extra=fields(action="sign-in", client=client))
            return redirect(_safe_next(request.args.get("next")))
        waited = throttle().failed(client)
        log.warning("console sign-in refused", extra=fields(
            action="sign-in", outcome="refused", client=client, delay_s=waited))
        error = "That password is not right."
    status = 401 if error else 200
    return render_template("console/sign_in.html", error=error), status


@bp.post("/sign-out")
def sign_out():
    """End the session."""
    session.clear()
    log.info("console sign-out", extra=fields(action="sign-out", client=request.remote_addr))
    return redirect(url_for("console.sign_in"))
