"""CRM record ids per conversation and adapter, for the webhook's answer (crmData).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crm_links',
        sa.Column('conversation_id', sa.String(length=200), nullable=False),
        sa.Column('adapter', sa.String(length=64), nullable=False),
        sa.Column('refs', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('conversation_id', 'adapter', name=op.f('pk_crm_links')),
    )
    op.create_index(op.f('ix_crm_links_updated_at'), 'crm_links', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_crm_links_updated_at'), table_name='crm_links')
    op.drop_table('crm_links')
