"""rights decisions: the gate decisions that named a registered work, per work

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rights_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('work_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('stage', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rights_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rights_decisions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rights_decisions_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rights_decisions_work_id'), ['work_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rights_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rights_decisions_work_id'))
        batch_op.drop_index(batch_op.f('ix_rights_decisions_job_id'))
        batch_op.drop_index(batch_op.f('ix_rights_decisions_created_at'))
    op.drop_table('rights_decisions')
