"""CRM record ids in the webhook's 200 answer, which Rocket.Chat stores on the room as crmData."""

import logging

from .jsontext import dump_json

log = logging.getLogger(__name__)

# The whole answer stays under 1 KB: Rocket.Chat keeps it on the room and echoes it back.
REFERENCES_LIMIT_BYTES = 800


def enabled(adapter_names) -> bool:
    """Whether any configured adapter reports CRM record ids worth answering with."""
    from .adapters import registry

    return any(getattr(cls, "writes_back", False)
               for cls in registry.adapter_classes(adapter_names).values())


def fitting(references: dict) -> dict:
    """The adapters' references that fit the size limit, whole adapters in name order."""
    kept = {}
    for adapter in sorted(references):
        candidate = {**kept, adapter: references[adapter]}
        if len(dump_json(candidate).encode("utf-8")) > REFERENCES_LIMIT_BYTES:
            log.warning("the %s references do not fit in the answer; left out", adapter)
            continue
        kept = candidate
    return kept
