"""Rate budgets shared by every worker per CRM account, and the adapters a breaker paused.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from receiver.store.types import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_budgets',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('tokens', sa.Float(), nullable=False),
        sa.Column('refilled_at', sa.Float(), nullable=False),
        sa.Column('blocked_until', sa.Float(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('key', name='pk_rate_budgets'),
    )
    op.create_table(
        'adapter_breakers',
        sa.Column('adapter', sa.String(length=64), nullable=False),
        sa.Column('opened_at', UTCDateTime(), nullable=False),
        sa.Column('failed_probes', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('probe_at', UTCDateTime(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('adapter', name='pk_adapter_breakers'),
    )


def downgrade() -> None:
    op.drop_table('adapter_breakers')
    op.drop_table('rate_budgets')
