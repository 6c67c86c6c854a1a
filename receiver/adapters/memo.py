"""A bounded in-process memory of CRM record ids, so repeated events skip repeated look-ups."""

import hashlib
from collections import OrderedDict

from ..jsontext import canonical_json

DEFAULT_SIZE = 10_000


class Memo:
    """Least-recently-used mapping; forgetting is always safe, as the CRM is looked up again."""

    def __init__(self, size: int = DEFAULT_SIZE):
        self.size = size
        self.items: OrderedDict = OrderedDict()

    def get(self, key):
        if key is None or key not in self.items:
            return None
        self.items.move_to_end(key)
        return self.items[key]

    def put(self, key, value) -> None:
        if key is None:
            return
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def forget(self, key) -> None:
        self.items.pop(key, None)


def fingerprint(fields: dict) -> str:
    """A short digest of what was written, to skip writing the same values again."""
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()[:32]


def field_digests(fields: dict) -> frozenset[str]:
    """A short digest of each field's name and value, to tell which were synced before."""
    return frozenset(hashlib.sha256(canonical_json([name, value]).encode()).hexdigest()[:12]
                     for name, value in fields.items())
