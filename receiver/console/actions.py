"""The console's actions: each POST changes one thing, logs what it touched, and redirects."""

import logging

from flask import abort, flash, redirect, request, url_for

from .. import intake
from ..clock import now
from ..logs import fields
from ..state import current
from ..store import deliveries, pauses, quarantine
from ..store.transactions import StoreUnavailable, transaction
from . import bp, checks

log = logging.getLogger(__name__)


def logged(action: str, **touched) -> None:
    log.info("console action", extra=fields(action=action, client=request.remote_addr,
                                             **touched))


def _configured(adapter: str) -> str:
    if adapter not in current().settings.adapters:
        abort(400, description=f"{adapter!r} is not a configured adapter.")
    return adapter


@bp.errorhandler(StoreUnavailable)
def store_unavailable(error):
    return "The database did not answer in time; try again in a moment.", 503


@bp.post("/dead-letters/<int:delivery_id>/retry")
def retry(delivery_id):
    """Make one dead letter pending again, due now."""
    with transaction(current().engine) as conn:
        revived = deliveries.retry_dead(conn, now(), ids=[delivery_id])
    logged("retry", delivery_id=delivery_id, revived=revived)
    flash(f"Delivery {delivery_id} will be tried again." if revived
          else f"Delivery {delivery_id} is not a dead letter any more.")
    return redirect(url_for("console.dead_letters"))


@bp.post("/dead-letters/retry-all")
def retry_all():
    """Make every dead letter of one adapter pending again."""
    adapter = _configured(request.form.get("adapter", ""))
    with transaction(current().engine) as conn:
        revived = deliveries.retry_dead(conn, now(), adapter=adapter)
    logged("retry-all", adapter=adapter, revived=revived)
    flash(f"{revived} dead letter(s) of {adapter} will be tried again.")
    return redirect(url_for("console.dead_letters"))


@bp.post("/quarantine/<int:held_id>/replay")
def replay(held_id):
    """Validate a held body again and accept it if it now passes."""
    receiver = current()
    try:
        outcome = intake.replay_held(receiver.engine, held_id, receiver.settings.adapters, now())
    except LookupError:
        abort(404)
    except intake.BadBody as error:
        outcome = None
        flash(f"Body #{held_id} is still refused: {error}")
    if isinstance(outcome, intake.Accepted):
        logged("replay", held_id=held_id, event_id=outcome.event_id, outcome="accepted")
        flash(f"Body #{held_id} was accepted as event {outcome.event_id}.")
    else:
        logged("replay", held_id=held_id, outcome="still invalid")
        if outcome is not None:
            flash(f"Body #{held_id} still fails validation: "
                  f"{', '.join(sorted(outcome.errors)) or 'see its errors'}.")
    return redirect(url_for("console.quarantine"))


@bp.post("/quarantine/<int:held_id>/discard")
def discard(held_id):
    """Mark a held body deliberately dropped; it stays in the database."""
    with transaction(current().engine) as conn:
        if quarantine.get_held(conn, held_id) is None:
            abort(404)
        quarantine.resolve(conn, held_id, now())
    logged("discard", held_id=held_id)
    flash(f"Body #{held_id} was discarded.")
    return redirect(url_for("console.quarantine"))


@bp.post("/adapters/<name>/pause")
def pause(name):
    """Stop delivering to an adapter until resumed; its deliveries wait, pending."""
    adapter = _configured(name)
    with transaction(current().engine) as conn:
        changed = pauses.pause(conn, adapter, now())
    logged("pause", adapter=adapter, changed=changed)
    flash(f"{adapter} is paused." if changed else f"{adapter} was paused already.")
    return redirect(url_for("console.adapters"))


@bp.post("/adapters/<name>/resume")
def resume(name):
    """Deliver to a paused adapter again."""
    adapter = _configured(name)
    with transaction(current().engine) as conn:
        changed = pauses.resume(conn, adapter, now())
    logged("resume", adapter=adapter, changed=changed)
    flash(f"{adapter} is delivering again." if changed else f"{adapter} was not paused.")
    return redirect(url_for("console.adapters"))


@bp.post("/adapters/check")
def check():
    """Run every adapter's connection check now instead of showing the cached one."""
    results = checks.cached(refresh=True)
    logged("check", adapters=",".join(results))
    flash("Connection checks ran just now.")
    return redirect(url_for("console.adapters"))
