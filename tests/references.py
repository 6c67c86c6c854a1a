"""The contract's order check for CRMs that keep notes, made on the event ids their notes name."""

import copy
import re

from receiver.adapters import Delivered
from receiver.store.crm_notes import MARKER_PREFIX
from receiver.testing import sample_events

# What transcript.event_marker writes; a conversation's marker names no event.
EVENT_REFERENCE = re.compile(re.escape(MARKER_PREFIX) + r"\[event ([^\]\s<]+)\]")
CONTRACT_EVENTS = ("e-livechat-session-start", "e-message-visitor", "e-livechat-session-close")


def referenced_event_ids(note_texts) -> list[str]:
    """The event id in each note's reference line, for the notes that carry one, in order."""
    return [found.group(1) for text in note_texts for found in EVENT_REFERENCE.finditer(text)]


def offline_messages(order) -> list[dict]:
    """The sample offline message as several events, numbered in the `order` given."""
    sample = sample_events()["e-offline-message"]
    events = []
    for n in order:
        event = copy.deepcopy(sample)
        event["id"] = f"{sample['id']}-{n}"
        event["offline_message"]["text"] = f"Please call me back, message {n}."
        events.append(event)
    return events


class OrderOfNotes:
    """Mixed in before `AdapterContract` for a CRM that keeps one note per conversation.

    Such a CRM keeps nothing that names a start or a message event (the start fills in
    the contact, the close writes the conversation's note), so the contract's own events
    can only be checked for delivery; the order is checked on offline messages, whose
    notes each name their event.
    """

    def test_the_crm_sees_events_in_the_order_given(self):
        for name in CONTRACT_EVENTS:
            assert isinstance(self._deliver(sample_events()[name]), Delivered)
        events = offline_messages(order=(2, 0, 1))  # not the order their ids sort in
        for event in events:
            assert isinstance(self._deliver(event), Delivered)
        ids = [event["id"] for event in events]
        assert [i for i in self.delivered_ids() if i in ids] == ids
