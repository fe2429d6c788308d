"""Alembic environment: run with a connection handed over by engine.store.schema."""

from __future__ import annotations

from alembic import context

from engine.store.models import Base
from engine.store.textsearch import unmodeled

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` CLI use (developers): build an engine from the ini URL
    from sqlalchemy import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise SystemExit("alembic: set sqlalchemy.url in the ini file (or run it through engine.store.schema)")
    connection = create_engine(url).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    # The run search's FTS5 table and expression index are made by hand in 0007, not by the models.
    include_name=lambda name, type_, parent: not unmodeled(name),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
