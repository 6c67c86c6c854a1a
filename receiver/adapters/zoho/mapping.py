"""What the `zoho` adapter writes: record fields and notes, from the event."""

from ..people import Person, mapped_fields
from ..transcript import as_text, conversation_marker, event_marker, readable_time, title
from .settings import ZohoSettings

NOTE_CONTENT_LIMIT = 32_000
LEAD_SOURCE = "Chat"
UNKNOWN_COMPANY = "Unknown"  # Leads require a company; a chat visitor rarely gives one
# What stands in for a required fact the visitor has not given yet; later chat data
# replaces it as if the field were empty.
PLACEHOLDERS = {"Last_Name": "Visitor", "Company": UNKNOWN_COMPANY}


def record_fields(person: Person, settings: ZohoSettings, module: str) -> dict:
    """The record's fields the event knows; absent facts are left as Zoho has them."""
    last_name = person.last_name or PLACEHOLDERS["Last_Name"]
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


def cautioned(caution: str | None) -> str:
    """The unverified-identity warning as the note's first paragraph, if there is one."""
    return f"{caution}\n\n" if caution else ""


def transcript_note(event: dict, caution: str | None = None) -> tuple[str, str, str]:
    """Marker, title and content of the note holding a closed conversation's transcript."""
    marker = conversation_marker(event)
    warning = cautioned(caution)
    text = as_text(event, limit=NOTE_CONTENT_LIMIT - len(warning), marker=marker)
    return marker, title(event)[:120], warning + text


def offline_note(event: dict, caution: str | None = None) -> tuple[str, str, str]:
    """Marker, title and content of the note holding an offline message."""
    marker = event_marker(event)
    offline = event["offline_message"]
    sent = readable_time(offline.get("sent_at"))
    heading = "Offline message" + (f", {sent}" if sent else "")
    text = (offline.get("text") or "")[:NOTE_CONTENT_LIMIT - 500]
    return marker, heading, f"{cautioned(caution)}{text}\n\n{marker}"
