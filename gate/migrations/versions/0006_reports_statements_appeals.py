"""after publication: viewers' reports, statements of reasons, appeals, restricted clips (issue 20)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', S(length=16), nullable=False),
    sa.Column('reporter', S(length=64), nullable=False),
    sa.Column('category', S(length=32), nullable=False),
    sa.Column('text', S(length=2000), nullable=False),
    sa.Column('status', S(length=16), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('created_at', T(), nullable=False),
    sa.Column('closed_at', T(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('video_id', 'reporter'),
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        for column in ('video_id', 'reporter', 'status', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_reports_{column}'), [column], unique=False)
    op.create_table('statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('video_id', S(length=16), nullable=False),
    sa.Column('creator', S(length=64), nullable=False),
    sa.Column('decision', S(length=16), nullable=False),
    sa.Column('source', S(length=16), nullable=False),
    sa.Column('ground', S(length=32), nullable=False),
    sa.Column('facts', S(length=4000), nullable=False),
    sa.Column('automated', sa.Boolean(), nullable=False),
    sa.Column('actor', S(length=64), nullable=False),
    sa.Column('appealable', sa.Boolean(), nullable=False),
    sa.Column('caused_by', sa.Integer(), nullable=True),
    sa.Column('created_at', T(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('statements', schema=None) as batch_op:
        for column in ('video_id', 'creator', 'ground', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_statements_{column}'), [column], unique=False)
    op.create_table('appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('video_id', S(length=16), nullable=False),
    sa.Column('appellant', S(length=64), nullable=False),
    sa.Column('text', S(length=2000), nullable=False),
    sa.Column('status', S(length=16), nullable=False),
    sa.Column('decided_by', S(length=64), nullable=True),
    sa.Column('outcome_reason', S(length=2000), nullable=True),
    sa.Column('created_at', T(), nullable=False),
    sa.Column('decided_at', T(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('statement_id'),
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        for column in ('video_id', 'appellant', 'status', 'created_at'):
            batch_op.create_index(batch_op.f(f'ix_appeals_{column}'), [column], unique=False)
    op.create_table('restricted_clips',
    sa.Column('video_id', S(length=16), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('created_at', T(), nullable=False),
    sa.PrimaryKeyConstraint('video_id'),
    )


def downgrade() -> None:
    op.drop_table('restricted_clips')
    for table, columns in (('appeals', ('video_id', 'appellant', 'status', 'created_at')),
                           ('statements', ('video_id', 'creator', 'ground', 'created_at')),
                           ('reports', ('video_id', 'reporter', 'status', 'created_at'))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
