"""The receiver's tables: events, their deliveries (one per adapter) and attempts, quarantine, and the console's."""

from sqlalchemy import (
    Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table,
    Text, UniqueConstraint, text,
)

from .types import Serial, UTCDateTime

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# The width of the text columns that hold Rocket.Chat ids and types; schemas refuse longer.
ID_LENGTH = 200

# Accepted webhooks. `seq` is the arrival order that per-conversation delivery follows;
# `dedup_key` is derived from the body and claimed by its unique constraint.
events = Table(
    "events", metadata,
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("source_type", String(ID_LENGTH)),
    Column("conversation_id", String(ID_LENGTH)),
    Column("test", Boolean, nullable=False, default=False),
    Column("occurred_at", UTCDateTime),
    Column("received_at", UTCDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("raw", LargeBinary),
    Column("redacted_at", UTCDateTime),
    # How many more times Rocket.Chat sent this event (its retries, answered as duplicates).
    Column("resends", Integer, nullable=False, server_default="0"),
    Index(None, "conversation_id", "seq"),
    Index(None, "received_at"),
    # The console's Kind filter pages through one kind, newest first.
    Index(None, "kind", "seq"),
    # Its Search also has indexes on expressions of `payload`, one set per database, which
    # migration 0006 creates (see store/contacts.py).
)

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
DELIVERY_STATES = (PENDING, DELIVERED, DEAD)

# One row per event and adapter. A row is claimed by setting a lease, never by deleting it;
# `conversation_id` and `event_seq` are copied here so the ordering check needs no join.
deliveries = Table(
    "deliveries", metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("event_seq", Serial, ForeignKey("events.seq", ondelete="CASCADE"), nullable=False),
    Column("adapter", String(64), nullable=False),
    Column("conversation_id", String(ID_LENGTH)),
    Column("state", String(16), nullable=False, default=PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", UTCDateTime, nullable=False),
    # The retry horizon counts from here; a manual retry of a dead letter resets it.
    Column("retries_since", UTCDateTime, nullable=False),
    Column("lease_owner", String(120)),
    Column("lease_expires_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_attempt_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("event_seq", "adapter"),
    Index("ix_deliveries_claim", "due_at", "id",
          postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
    Index("ix_deliveries_order", "adapter", "conversation_id", "event_seq",
          postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
    # The backlog gauges: pending deliveries per adapter and the oldest, off the index alone.
    Index("ix_deliveries_pending_age", "adapter", "created_at",
          postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
    # Counts of finished deliveries; pending ones are counted off the indexes above.
    # Leaving pending rows out also keeps SQLite from picking this index for claims.
    Index("ix_deliveries_state_adapter", "state", "adapter",
          postgresql_where=text("state <> 'pending'"), sqlite_where=text("state <> 'pending'")),
    # The console's Dead letters, newest first per adapter; small, as dead letters are few.
    Index("ix_deliveries_dead", "adapter", "id",
          postgresql_where=text("state = 'dead'"), sqlite_where=text("state = 'dead'")),
)

HELD = "held"
ACCEPTED = "accepted"
DISCARDED = "discarded"

# Bodies of known types that failed validation, kept byte for byte until replayed or discarded.
# A sender retrying the same bad body bumps `times_received` instead of adding rows.
quarantine = Table(
    "quarantine", metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False, unique=True),
    Column("source_type", String(ID_LENGTH)),
    Column("errors", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("state", String(16), nullable=False, default=HELD),
    Column("times_received", Integer, nullable=False, default=1),
    Column("received_at", UTCDateTime, nullable=False),
    Column("last_received_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("event_id", String(40)),
    Index(None, "state", "id"),
)

# The CRM record ids each adapter reported for a conversation, merged over its deliveries;
# the webhook's 200 answer carries them so Rocket.Chat keeps them on the room as crmData.
crm_links = Table(
    "crm_links", metadata,
    Column("conversation_id", String(ID_LENGTH), primary_key=True),
    Column("adapter", String(64), primary_key=True),
    Column("refs", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "updated_at"),
)

# Which CRM record each visitor identifier (a digest of its token, email or phone) was matched
# to, per adapter and module, so that every worker process updates the same record. A row
# without a record is a claim to create it, which no other delivery takes before
# `claimed_until`: long enough for the CRM's search to show a record whose answer was lost.
crm_identities = Table(
    "crm_identities", metadata,
    Column("scope", String(64), primary_key=True),
    Column("identifier", String(64), primary_key=True),
    Column("record_id", String(ID_LENGTH)),
    Column("matched_by", String(16)),
    Column("claimed_by", String(32)),
    Column("claimed_until", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    # Short digests of each field (name and value) last synced to the record from the chat:
    # an event wanting only fields among them costs no CRM call.
    Column("synced", Text),
    Index(None, "scope", "record_id"),
    # `receiver prune` takes the rows not written for the retention period, oldest first.
    Index(None, "updated_at"),
)

# The note each conversation (or offline message) was written to, per adapter and module, by
# a digest of the note's reference line. A row without a note id is a create that was sent
# and whose answer may have been lost: the next attempt looks for the note in the CRM first.
crm_notes = Table(
    "crm_notes", metadata,
    Column("scope", String(64), primary_key=True),
    Column("marker", String(64), primary_key=True),
    Column("note_id", String(ID_LENGTH)),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "updated_at"),
)

# Each time a worker called an adapter for a delivery, with what came of it; the console
# shows them on an event's page and charts them per hour.
delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("delivery_id", Serial, ForeignKey("deliveries.id", ondelete="CASCADE"),
           nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error", Text),
    Index(None, "delivery_id", "id"),
    # Covers the Overview's chart of attempts per hour by outcome.
    Index(None, "attempted_at", "outcome"),
)

# Adapters an operator paused: workers claim none of their deliveries until resumed.
paused_adapters = Table(
    "paused_adapters", metadata,
    Column("adapter", String(64), primary_key=True),
    Column("paused_at", UTCDateTime, nullable=False),
)

# Secrets the web processes share, such as the key that signs console sessions.
secrets = Table(
    "secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One token bucket per CRM account and limit, shared by every worker process: tokens left,
# when they were last refilled, and until when the CRM refuses calls (a 429), in epoch seconds.
rate_budgets = Table(
    "rate_budgets", metadata,
    Column("key", String(200), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("refilled_at", Float, nullable=False),
    Column("blocked_until", Float, nullable=False, server_default="0"),
)

# Adapters the circuit breaker paused (beside their `paused_adapters` row): since when, how
# many probes failed since, when the next probe may go, and why it opened.
adapter_breakers = Table(
    "adapter_breakers", metadata,
    Column("adapter", String(64), primary_key=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("failed_probes", Integer, nullable=False, server_default="0"),
    Column("probe_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=True),
)
