"""The webhook endpoint: verify, parse, store, then answer."""

from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from . import observe
from .auth import TOKEN_HEADER, TokenMismatch, check_token
from .intake import Accepted, BadBody, accept
from .responses import error_response
from .state import current
from .writeback import fitting

bp = Blueprint("webhook", __name__)

observe.watch(bp)


def request_body(limit: int) -> bytes:
    """The whole body, or RequestEntityTooLarge past `limit` bytes, whether or not it is chunked."""
    # A chunked body is cut off at the limit without a word, so read one byte more to
    # tell a body of exactly `limit` bytes from a longer one.
    request.max_content_length = limit + 1
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    return raw


def accepted_as(outcome: Accepted) -> str:
    """How an accepted request counts: a type this version does not know is kept, not delivered."""
    if outcome.duplicate:
        return "duplicate"
    return "unknown_type" if outcome.kind == "unknown" else "accepted"


@bp.post("/webhooks/rocketchat")
def receive():
    """Accept one Rocket.Chat Omnichannel event."""
    receiver = current()
    settings = receiver.settings
    check_token(request.headers.get(TOKEN_HEADER), settings.tokens)
    outcome = accept(receiver.engine, request_body(settings.max_body_bytes), settings.adapters,
                     datetime.now(timezone.utc), write_back=receiver.write_back)
    if isinstance(outcome, Accepted):
        record = observe.current()
        record.event_type, record.outcome = outcome.source_type, accepted_as(outcome)
        record.event_id, record.conversation_id = outcome.event_id, outcome.conversation_id
        # Rocket.Chat stores this body on the room as crmData, so it stays small.
        answer = {"success": True, "id": outcome.event_id, "duplicate": outcome.duplicate}
        if outcome.references:
            answer["crm"] = fitting(outcome.references)
        return jsonify(answer)
    record = observe.current()
    record.event_type, record.quarantine_id = outcome.source_type, outcome.held_id
    return error_response(
        422, f"the {outcome.source_type or 'untyped'} payload failed validation; "
        f"it is kept in quarantine as #{outcome.held_id}",
        fields=outcome.errors, quarantine_id=outcome.held_id,
    )


@bp.errorhandler(TokenMismatch)
def token_mismatch(error):
    observe.current().reason = "wrong token" if request.headers.get(TOKEN_HEADER) else "no token"
    return error_response(401, str(error))


@bp.errorhandler(BadBody)
def bad_body(error):
    return error_response(400, str(error))
