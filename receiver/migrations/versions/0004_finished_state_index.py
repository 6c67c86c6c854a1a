"""Index only finished deliveries by state and adapter, so claims walk the due-order index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

FINISHED = sa.text("state <> 'pending'")


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_state_adapter')
        batch_op.create_index('ix_deliveries_state_adapter', ['state', 'adapter'], unique=False,
                              postgresql_where=FINISHED, sqlite_where=FINISHED)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_state_adapter', postgresql_where=FINISHED,
                            sqlite_where=FINISHED)
        batch_op.create_index('ix_deliveries_state_adapter', ['state', 'adapter'], unique=False)
