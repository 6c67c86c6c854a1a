"""Renders a conversation's facts and messages for a CRM note, as plain text or simple HTML."""

import html
from datetime import datetime

from ..store import crm_notes


def conversation_marker(event: dict) -> str:
    """A line that identifies the conversation's note, so a redelivery finds and updates it."""
    return crm_notes.conversation_marker(event["conversation"]["id"])


def event_marker(event: dict) -> str:
    """A line that identifies the note written for one event (an offline message)."""
    return crm_notes.event_marker(event["id"])


def closes_conversation(event: dict) -> bool:
    """A close, or an edit of an already closed chat (its tags or fields changed): the
    events that write the transcript."""
    conversation = event.get("conversation") or {}
    return event["kind"] == "chat.closed" or (
        event["kind"] == "chat.updated" and bool(conversation.get("closed_at")))


def readable_time(value: str | None) -> str | None:
    """`2025-03-04T10:15:03.020Z` as `2025-03-04 10:15:03 UTC`."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def person(who: dict | None) -> str | None:
    """`Name (username)`, or whichever of the two is known."""
    if not who:
        return None
    name, username = who.get("name"), who.get("username")
    if name and username and name != username:
        return f"{name} ({username})"
    return name or username


def agent_line(agent: dict | None) -> str | None:
    """`Name (username) <email>`; a deleted agent, of whom Rocket.Chat sends only the id, by id."""
    if not agent:
        return None
    who = person(agent) or (f"user {agent['id']}" if agent.get("id") else None)
    email = agent.get("email")
    if who and email:
        return f"{who} <{email}>"
    return who or email


def title(event: dict) -> str:
    """A one-line title: who the chat was with, and when it started."""
    conversation, contact = event["conversation"], event.get("contact") or {}
    who = contact.get("name") or contact.get("username") or conversation.get("label") or "a visitor"
    started = readable_time(conversation.get("created_at"))
    return f"Rocket.Chat chat with {who}" + (f", {started}" if started else "")


def facts(event: dict) -> list[tuple[str, str]]:
    """Label and value of each known fact about the conversation, in reading order."""
    conversation = event["conversation"]
    closer = conversation.get("closer")
    closed = readable_time(conversation.get("closed_at"))
    if closed and closer:
        closed += f" by the {closer}"
    rows = [
        ("Agent", agent_line(event.get("agent"))),
        ("Department", conversation.get("department_id")),
        ("Topic", conversation.get("topic")),
        ("Tags", ", ".join(conversation.get("tags") or []) or None),
        ("Started", readable_time(conversation.get("created_at"))),
        ("Closed", closed),
    ]
    rows += [(f"Field {key}", str(value))
             for key, value in sorted((conversation.get("custom_fields") or {}).items())]
    return [(label, value) for label, value in rows if value]


def message_line(message: dict) -> str:
    """`[time] Author (role): text`, with attachments named after the text."""
    author = person(message.get("author")) or message.get("role")
    text = message.get("text") or ""
    for attachment in message.get("attachments") or []:
        text += f" [file: {attachment.get('title') or 'attachment'} {attachment.get('url') or ''}]"
    when = readable_time(message.get("sent_at")) or "?"
    return f"[{when}] {author} ({message.get('role')}): {text.strip()}"


def _fitting(lines: list[str], budget: int) -> tuple[list[str], int]:
    """The leading lines whose total length stays within `budget`, and how many were left out."""
    kept, used = [], 0
    for line in lines:
        used += len(line) + 1
        if used > budget:
            break
        kept.append(line)
    return kept, len(lines) - len(kept)


def as_text(event: dict, *, limit: int, marker: str) -> str:
    """The transcript as plain text of at most `limit` characters, ending with `marker`."""
    head = [title(event)] + [f"{label}: {value}" for label, value in facts(event)] + [""]
    tail = ["", marker]
    room = limit - sum(len(line) + 1 for line in head + tail) - 120
    lines, left_out = _fitting([message_line(m) for m in event.get("messages") or []], room)
    if left_out:
        lines.append(f"... {left_out} later messages not shown (receiver event {event['id']})")
    return "\n".join(head + lines + tail)[:limit]


def as_html(event: dict, *, limit: int, marker: str) -> str:
    """The transcript as simple HTML of at most `limit` characters, ending with `marker`."""
    escape = html.escape
    head = f"<p><strong>{escape(title(event))}</strong></p>" + "".join(
        f"<p><strong>{escape(label)}:</strong> {escape(value)}</p>" for label, value in facts(event))
    tail = f"<p>{escape(marker)}</p>"
    room = limit - len(head) - len(tail) - 200
    items = [f"<li>{escape(message_line(m))}</li>" for m in event.get("messages") or []]
    kept, left_out = _fitting(items, room)
    if left_out:
        kept.append(f"<li>... {left_out} later messages not shown "
                    f"(receiver event {escape(event['id'])})</li>")
    return (head + (f"<ul>{''.join(kept)}</ul>" if kept else "") + tail)[:limit]
