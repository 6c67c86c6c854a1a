"""One module's records that answer finds and reads from what one batch call looked up."""

from .matching import Records


class LookedUp:
    """A `Records` view: finds and reads looked up ahead cost no call; writes go through
    (and a written record is read afresh, should another visitor of the batch find it)."""

    def __init__(self, records: Records, found: dict[tuple[str, str], str | None],
                 held: dict[str, dict]):
        self.records = records
        self.scope = records.scope
        self.placeholders = records.placeholders
        self.found = found  # (kind, value) -> record id, or None when none holds it
        self.held = held  # record id -> its fields as looked up

    def find(self, kind: str, value: str) -> str | None:
        if (kind, value) in self.found:
            return self.found[kind, value]
        return self.records.find(kind, value)

    def read(self, record_id: str) -> dict | None:
        if record_id in self.held:
            return self.held[record_id]
        return self.records.read(record_id)

    def create(self, fields: dict) -> tuple[str, bool]:
        return self.records.create(fields)

    def update(self, record_id: str, fields: dict) -> None:
        self.held.pop(record_id, None)
        self.records.update(record_id, fields)

    def name_of(self, held: dict) -> str | None:
        return self.records.name_of(held)
