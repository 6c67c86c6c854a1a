"""What each worker process would otherwise look up in the CRM again: the fields last synced
to a visitor's record, and the note written for each conversation.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not `events`: adding a nullable column is done in place on SQLite and PostgreSQL.
    op.add_column('crm_identities', sa.Column('synced', sa.Text(), nullable=True))
    op.create_table(
        'crm_notes',
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('marker', sa.String(length=64), nullable=False),
        sa.Column('note_id', sa.String(length=200), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('scope', 'marker', name=op.f('pk_crm_notes')),
    )
    op.create_index(op.f('ix_crm_notes_updated_at'), 'crm_notes', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_crm_notes_updated_at'), table_name='crm_notes')
    op.drop_table('crm_notes')
    op.drop_column('crm_identities', 'synced')
