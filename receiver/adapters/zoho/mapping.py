"""What the `zoho` adapter writes: record fields and notes, from the event."""

from ..people import Person, mapped_fields
from ..transcript import as_text, conversation_marker, event_marker, readable_time, title
from .settings import ZohoSettings

NOTE_CONTENT_LIMIT = 32_000
LEAD_SOURCE = "Chat"
UNKNOWN_COMPANY = "Unknown"  # Leads require a company; a chat visitor rarely gives one


def record_fields(person: Person, settings: ZohoSettings, module: str) -> dict:
    """The record's fields the event knows; absent facts are left as Zoho has them."""
    last_name = person.last_name or (person.email or "").split("@")[0] or "Visitor"
    fields = {
        "First_Name": person.first_name, "Last_Name": last_name,
        "Email": person.email, "Phone": person.phone, "Lead_Source": LEAD_SOURCE,
        **mapped_fields(person, settings.custom_fields),
    }
    if settings.token_field:
        fields[settings.token_field] = person.token
    if module == "Leads":
        fields.setdefault("Company", UNKNOWN_COMPANY)
    return {name: value for name, value in fields.items() if value}


def duplicate_check_fields(fields: dict, settings: ZohoSettings) -> list[str]:
    """The unique fields Zoho should match an existing record on, of those the record has."""
    candidates = ["Email"] + ([settings.token_field] if settings.token_field else [])
    return [name for name in candidates if fields.get(name)]


def transcript_note(event: dict) -> tuple[str, str, str]:
    """Marker, title and content of the note holding a closed conversation's transcript."""
    marker = conversation_marker(event)
    return marker, title(event)[:120], as_text(event, limit=NOTE_CONTENT_LIMIT, marker=marker)


def offline_note(event: dict) -> tuple[str, str, str]:
    """Marker, title and content of the note holding an offline message."""
    marker = event_marker(event)
    offline = event["offline_message"]
    sent = readable_time(offline.get("sent_at"))
    heading = "Offline message" + (f", {sent}" if sent else "")
    text = (offline.get("text") or "")[:NOTE_CONTENT_LIMIT - 500]
    return marker, heading, f"{text}\n\n{marker}"
