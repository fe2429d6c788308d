"""pipelines: registered command components, and the cache of completed steps a pipeline reuses

Revision ID: 0006_pipelines
Revises: 0005_data_lineage
Create Date: 2026-12-06 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_pipelines"
down_revision = "0005_data_lineage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "version", name="uq_components_name_version"),
    )
    op.create_table(
        "step_cache",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("run_name", sa.String(length=255), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_name"], ["runs.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_step_cache_key"), "step_cache", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_step_cache_key"), table_name="step_cache")
    op.drop_table("step_cache")
    op.drop_table("components")
