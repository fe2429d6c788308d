"""parent runs: runs.parent_name links a child run to the run that submitted it

Revision ID: 0004_parent_runs
Revises: 0003_compute_targets
Create Date: 2026-11-24 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_parent_runs'
down_revision = '0003_compute_targets'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An inline REFERENCES clause, not a batch table copy: on SQLite a copy drops and recreates
    # `runs`, and with foreign keys on that drop would cascade-delete every run's events and metrics.
    op.add_column(
        'runs',
        sa.Column('parent_name', sa.String(length=255), sa.ForeignKey('runs.name'),
                  nullable=True),
        inline_references=True,
    )
    op.create_index(op.f('ix_runs_parent_name'), 'runs', ['parent_name'], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot drop a column that has a foreign key, and rebuilding `runs` would cascade.
        raise NotImplementedError("downgrading below 0004_parent_runs is not supported on SQLite")
    op.drop_index(op.f('ix_runs_parent_name'), table_name='runs')
    op.drop_column('runs', 'parent_name')
