"""The CRM record each visitor identifier was matched to, shared by all worker processes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crm_identities',
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('identifier', sa.String(length=64), nullable=False),
        sa.Column('record_id', sa.String(length=200), nullable=True),
        sa.Column('matched_by', sa.String(length=16), nullable=True),
        sa.Column('claimed_by', sa.String(length=32), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('scope', 'identifier', name=op.f('pk_crm_identities')),
    )
    op.create_index(op.f('ix_crm_identities_scope_record_id'), 'crm_identities',
                    ['scope', 'record_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_crm_identities_scope_record_id'), table_name='crm_identities')
    op.drop_table('crm_identities')
