"""hash banks (PDQ, vPDQ, exact hashes) with a policy each, and their entries (issue 20: stay-down)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hash_banks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('policy', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('hash_banks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hash_banks_name'), ['name'], unique=True)

    op.create_table('hash_bank_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('signal_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('signal', sa.Text(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('content_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['hash_banks.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bank_id', 'digest', name='uq_hash_bank_entries_bank_digest')
    )
    with op.batch_alter_table('hash_bank_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hash_bank_entries_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index('ix_hash_bank_entries_type_digest', ['signal_type', 'digest'], unique=False)
    # the bank every takedown feeds exists from the start: two first takedowns at once cannot both create it
    banks = sa.table('hash_banks', sa.column('name', sa.String), sa.column('policy', sa.String),
                     sa.column('description', sa.String), sa.column('created_by', sa.String),
                     sa.column('created_at', sa.DateTime(timezone=True)))
    op.bulk_insert(banks, [{'name': 'removed', 'policy': 'block', 'description': 'hashes of every clip taken down',
                            'created_by': 'system', 'created_at': datetime.now(UTC)}])



def downgrade() -> None:
    with op.batch_alter_table('hash_bank_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_hash_bank_entries_type_digest')
        batch_op.drop_index(batch_op.f('ix_hash_bank_entries_bank_id'))

    op.drop_table('hash_bank_entries')
    with op.batch_alter_table('hash_banks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hash_banks_name'))

    op.drop_table('hash_banks')
