"""Count how many more times Rocket.Chat sent each stored event, for the console's timeline.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


# Not in batch mode: SQLite adds and drops a column in place (3.35 and later), where a
# batch rebuild of `events` would lose the expression indexes of migration 0006.
def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column('events', sa.Column('resends', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    op.drop_column('events', 'resends')
