"""Claim deliveries in (due_at, id) order straight off a partial index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_due', postgresql_where=PENDING, sqlite_where=PENDING)
        batch_op.create_index('ix_deliveries_claim', ['due_at', 'id'], unique=False,
                              postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_claim', postgresql_where=PENDING, sqlite_where=PENDING)
        batch_op.create_index('ix_deliveries_due', ['due_at'], unique=False,
                              postgresql_where=PENDING, sqlite_where=PENDING)
