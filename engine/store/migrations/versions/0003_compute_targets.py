"""registered compute targets

Revision ID: 0003_compute_targets
Revises: 0002_environments
Create Date: 2026-11-23 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003_compute_targets'
down_revision = '0002_environments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('compute_targets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_compute_targets_name')
    )


def downgrade() -> None:
    op.drop_table('compute_targets')
