"""data lineage: data assets keep tags, a content hash, size, the producing run, archived and
copied flags; run_data records what each run consumed and produced

Revision ID: 0005_data_lineage
Revises: 0004_parent_runs
Create Date: 2026-12-05 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_data_lineage"
down_revision = "0004_parent_runs"
branch_labels = None
depends_on = None

_ASSET_COLUMNS = (
    "tags",
    "content_hash",
    "size",
    "file_count",
    "run_name",
    "archived",
    "copied",
    "source_path",
)


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch table copy): nullable, or with a server default for old rows.
    op.add_column("data_assets", sa.Column("tags", sa.JSON(), nullable=True))
    op.add_column("data_assets", sa.Column("content_hash", sa.String(length=64), nullable=True))
    op.add_column("data_assets", sa.Column("size", sa.BigInteger(), nullable=True))
    op.add_column("data_assets", sa.Column("file_count", sa.Integer(), nullable=True))
    op.add_column("data_assets", sa.Column("run_name", sa.String(length=255), nullable=True))
    op.add_column(
        "data_assets", sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("data_assets", sa.Column("copied", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column("data_assets", sa.Column("source_path", sa.Text(), nullable=True))
    op.create_table(
        "run_data",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_name", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("asset_kind", sa.String(length=8), nullable=True),
        sa.Column("asset_name", sa.String(length=255), nullable=True),
        sa.Column("asset_version", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_name"], ["runs.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_run_data_run_name"), "run_data", ["run_name"], unique=False)
    op.create_index(op.f("ix_run_data_asset_name"), "run_data", ["asset_name"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_run_data_asset_name"), table_name="run_data")
    op.drop_index(op.f("ix_run_data_run_name"), table_name="run_data")
    op.drop_table("run_data")
    with op.batch_alter_table("data_assets") as batch:
        for column in _ASSET_COLUMNS:
            batch.drop_column(column)
