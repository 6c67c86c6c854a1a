"""`receiver prune` finds the visitor links not written for the retention period by an index.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_crm_identities_updated_at'), 'crm_identities', ['updated_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_crm_identities_updated_at'), table_name='crm_identities')
