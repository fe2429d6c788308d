"""run search: indexes that walk runs in the runs table's default order and by name, one that counts the
top-level runs, and (SQLite) a trigram full-text index of what the runs table's filter box matches

Revision ID: 0007_run_search
Revises: 0006_pipelines
Create Date: 2026-12-07 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_run_search"
down_revision = "0006_pipelines"
branch_labels = None
depends_on = None

# What the filter box matches, one field after another; char(31) (a unit separator nobody types)
# keeps a substring from spanning two fields.
_BODY = (
    "coalesce({r}.name, '') || char(31) || coalesce({r}.display_name, '') || char(31) || "
    "coalesce({r}.status, '') || char(31) || "
    "coalesce((SELECT name FROM experiments WHERE id = {r}.experiment_id), '') || char(31) || "
    "coalesce({r}.compute, '') || char(31) || coalesce({r}.tags, '')"
)


def upgrade() -> None:
    # Sorted by start (the default), a page is read straight off this index: no sort of every run.
    # archived and parent_name make it cover the default filter too.
    op.create_index("ix_runs_start", "runs", [sa.text("coalesce(start_time, created_at)"), "created_at", "name",
                                              "archived", "parent_name"])
    op.create_index("ix_runs_name", "runs", [sa.text("lower(display_name)"), "created_at", "name",
                                             "archived", "parent_name"])
    op.create_index("ix_runs_top", "runs", ["parent_name", "archived"])
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL filters with ILIKE (engine.store.runquery)
    try:
        op.execute("CREATE VIRTUAL TABLE runs_search USING fts5(body, tokenize='trigram')")
    except sa.exc.OperationalError:
        return  # an SQLite without FTS5: the filter scans with LIKE, as before
    # Only runs not archived are indexed: the default view's count is then the index's own count.
    op.execute(f"INSERT INTO runs_search(rowid, body) SELECT rowid, {_BODY.format(r='runs')} "
               "FROM runs WHERE archived = 0")
    op.execute(f"""CREATE TRIGGER runs_search_insert AFTER INSERT ON runs WHEN new.archived = 0 BEGIN
        INSERT INTO runs_search(rowid, body) VALUES (new.rowid, {_BODY.format(r='new')}); END""")
    op.execute("""CREATE TRIGGER runs_search_delete AFTER DELETE ON runs BEGIN
        DELETE FROM runs_search WHERE rowid = old.rowid; END""")
    op.execute(f"""CREATE TRIGGER runs_search_update
        AFTER UPDATE OF name, display_name, status, experiment_id, compute, tags, archived ON runs BEGIN
        DELETE FROM runs_search WHERE rowid = old.rowid;
        INSERT INTO runs_search(rowid, body) SELECT new.rowid, {_BODY.format(r='new')} WHERE new.archived = 0; END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("runs_search_insert", "runs_search_delete", "runs_search_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS runs_search")
    op.drop_index("ix_runs_top", table_name="runs")
    op.drop_index("ix_runs_name", table_name="runs")
    op.drop_index("ix_runs_start", table_name="runs")
