"""What the `hubspot` adapter writes: contact properties and note properties, from the event."""

import html

from ..people import Person, mapped_fields
from ..transcript import as_html, conversation_marker, event_marker, readable_time
from .settings import HubSpotSettings

NOTE_BODY_LIMIT = 65_536  # HubSpot's limit on hs_note_body


def contact_properties(person: Person, settings: HubSpotSettings) -> dict:
    """The contact properties the event knows; absent facts are left as HubSpot has them."""
    properties = {
        "email": person.email, "phone": person.phone,
        "firstname": person.first_name, "lastname": person.last_name,
        settings.token_property: person.token,
        **mapped_fields(person, settings.custom_fields),
    }
    return {name: value for name, value in properties.items() if value}


def cautioned(caution: str | None) -> str:
    """The unverified-identity warning as the note's first paragraph, if there is one."""
    return f"<p><strong>{html.escape(caution)}</strong></p>" if caution else ""


def transcript_note(event: dict, caution: str | None = None) -> tuple[str, dict]:
    """The marker and properties of the note holding a closed conversation's transcript."""
    marker = conversation_marker(event)
    conversation = event["conversation"]
    when = conversation.get("closed_at") or event.get("occurred_at") or event["received_at"]
    warning = cautioned(caution)
    body = as_html(event, limit=NOTE_BODY_LIMIT - len(warning), marker=marker)
    return marker, {"hs_timestamp": when, "hs_note_body": warning + body}


def offline_note(event: dict, caution: str | None = None) -> tuple[str, dict]:
    """The marker and properties of the note holding an offline message."""
    marker = event_marker(event)
    offline = event["offline_message"]
    sender = offline.get("name") or offline.get("email") or "a visitor"
    sent = readable_time(offline.get("sent_at"))
    # Escaping can grow text sixfold; cutting the text keeps the marker inside the limit.
    text = (offline.get("text") or "")[:NOTE_BODY_LIMIT // 8]
    body = (cautioned(caution)
            + f"<p><strong>Offline message from {html.escape(sender)}</strong>"
            + (f", {sent}" if sent else "") + "</p>"
            + f"<p>{html.escape(text)}</p><p>{html.escape(marker)}</p>")
    when = offline.get("sent_at") or event["received_at"]
    return marker, {"hs_timestamp": when, "hs_note_body": body}
