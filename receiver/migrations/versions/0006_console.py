"""The console's tables and indexes: delivery attempts, paused adapters, shared secrets,
dead letters, events by kind, and conversation events by their contact's name, email,
phone and token.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from receiver.store import contacts
from receiver.store.types import Serial, UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

DEAD = sa.text("state = 'dead'")


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
        op.execute(contacts.JSON_FIELD_FUNCTION)
    for field in contacts.FIELDS:
        op.create_index(contacts.index_name(dialect, field), 'events',
                        [sa.text(contacts.expression(dialect, field))],
                        sqlite_where=sa.text(contacts.INDEXED),
                        postgresql_where=sa.text(contacts.INDEXED))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for field in contacts.FIELDS:
        op.drop_index(contacts.index_name(dialect, field), table_name='events')
    if dialect == 'postgresql':
        op.execute(f'DROP FUNCTION {contacts.JSON_FIELD}(text, text[])')
    op.drop_index('ix_events_kind_seq', table_name='events')
    op.drop_index('ix_deliveries_dead', table_name='deliveries', postgresql_where=DEAD,
                  sqlite_where=DEAD)
    op.drop_table('secrets')
    op.drop_table('paused_adapters')
    op.drop_table('delivery_attempts')
