"""The `log` adapter: one structured line per event, without the contact's personal data."""

import logging

from ..logs import fields
from .base import Adapter, Delivered

log = logging.getLogger("receiver.adapters.log")


class LogAdapter(Adapter):
    """Logs that an event passed through; useful to watch a deployment before a CRM is wired."""

    def deliver(self, event: dict) -> Delivered:
        conversation = event.get("conversation") or {}
        log.info("event", extra=fields(
            event_id=event["id"], kind=event["kind"], test=event["test"],
            conversation_id=conversation.get("id"), occurred_at=event["occurred_at"],
            messages=len(event["messages"])))
        return Delivered()
