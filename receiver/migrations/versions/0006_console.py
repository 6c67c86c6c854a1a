"""The console's tables and indexes: delivery attempts, paused adapters, shared secrets,
dead letters, events by kind, and conversation events by their contact's name, email,
phone and token.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from receiver.store.types import Serial, UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

DEAD = sa.text("state = 'dead'")

# The contact indexes as this revision builds them, written out rather than imported from
# receiver.store.contacts, so that a later change there cannot change what this revision
# did; tests/test_migrations.py checks the live queries still match these expressions.
INDEXED = sa.text("kind NOT IN ('message.visitor', 'message.agent')")
CONTACT_INDEXES = {
    'sqlite': {
        'ix_events_contact_name_sqlite': "lower(json_extract(payload, '$.contact.name'))",
        'ix_events_contact_email_sqlite': "lower(json_extract(payload, '$.contact.emails[0]'))",
        'ix_events_contact_phone_sqlite': "json_extract(payload, '$.contact.phones[0]')",
        'ix_events_contact_token_sqlite': "json_extract(payload, '$.contact.token')",
    },
    'postgresql': {
        'ix_events_contact_name_postgresql': "lower(receiver_json_field(payload, '{contact,name}'))",
        'ix_events_contact_email_postgresql':
            "lower(receiver_json_field(payload, '{contact,emails,0}'))",
        'ix_events_contact_phone_postgresql': "receiver_json_field(payload, '{contact,phones,0}')",
        'ix_events_contact_token_postgresql': "receiver_json_field(payload, '{contact,token}')",
    },
}
# PostgreSQL refuses some text JSON allows (\u0000, lone surrogates): NULL instead of an
# event that cannot be inserted.
JSON_FIELD_FUNCTION = """
CREATE OR REPLACE FUNCTION receiver_json_field(document text, path text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN document::json #>> path;
EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        'delivery_attempts',
        sa.Column('id', Serial, autoincrement=True, nullable=False),
        sa.Column('delivery_id', Serial, nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('attempted_at', UTCDateTime(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ondelete='CASCADE',
                                name='fk_delivery_attempts_delivery_id_deliveries'),
        sa.PrimaryKeyConstraint('id', name='pk_delivery_attempts'),
    )
    op.create_index('ix_delivery_attempts_delivery_id_id', 'delivery_attempts',
                    ['delivery_id', 'id'])
    op.create_index('ix_delivery_attempts_attempted_at_outcome', 'delivery_attempts',
                    ['attempted_at', 'outcome'])
    op.create_table(
        'paused_adapters',
        sa.Column('adapter', sa.String(length=64), nullable=False),
        sa.Column('paused_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('adapter', name='pk_paused_adapters'),
    )
    op.create_table(
        'secrets',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name='pk_secrets'),
    )
    op.create_index('ix_events_kind_seq', 'events', ['kind', 'seq'])
    op.create_index('ix_deliveries_dead', 'deliveries', ['adapter', 'id'],
                    postgresql_where=DEAD, sqlite_where=DEAD)
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute(JSON_FIELD_FUNCTION)
    for name, expression in CONTACT_INDEXES[dialect].items():
        op.create_index(name, 'events', [sa.text(expression)], sqlite_where=INDEXED,
                        postgresql_where=INDEXED)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in CONTACT_INDEXES[dialect]:
        op.drop_index(name, table_name='events')
    if dialect == 'postgresql':
        op.execute('DROP FUNCTION receiver_json_field(text, text[])')
    op.drop_index('ix_events_kind_seq', table_name='events')
    op.drop_index('ix_deliveries_dead', table_name='deliveries', postgresql_where=DEAD,
                  sqlite_where=DEAD)
    op.drop_table('secrets')
    op.drop_table('paused_adapters')
    op.drop_table('delivery_attempts')
