"""One module's records as a batch sees them: finds and reads from what batch calls looked up
ahead, updates held back to be sent together."""

from .matching import Records


class LookedUp:
    """A `Records` view: finds and reads looked up ahead cost no call, creates go through,
    and updates are held in `updates`, tagged with the `job` in hand, until sent together;
    a record read meanwhile reads as if they were made."""

    def __init__(self, records: Records, found: dict[tuple[str, str], str | None] | None = None,
                 held: dict[str, dict] | None = None):
        self.records = records
        self.scope = records.scope
        self.placeholders = records.placeholders
        self.found = found or {}  # (kind, value) -> record id, or None when none holds it
        self.held = held or {}  # record id -> its fields as looked up
        self.updates: list[tuple[object, str, dict]] = []  # (job, record id, fields)
        self.job = None

    def find(self, kind: str, value: str) -> str | None:
        if (kind, value) in self.found:
            return self.found[kind, value]
        return self.records.find(kind, value)

    def read(self, record_id: str) -> dict | None:
        held = self.held[record_id] if record_id in self.held else self.records.read(record_id)
        for _, updated, fields in self.updates:
            if held is not None and updated == record_id:
                held = {**held, **fields}
        return held

    def create(self, fields: dict) -> tuple[str, bool]:
        return self.records.create(fields)

    def update(self, record_id: str, fields: dict) -> None:
        self.updates.append((self.job, record_id, fields))

    def holding(self, record_id: str) -> bool:
        """Whether an update of the job in hand to the record is held back, not sent yet."""
        return any(job is self.job and updated == record_id for job, updated, _ in self.updates)

    def name_of(self, held: dict) -> str | None:
        return self.records.name_of(held)
