"""The session PostgreSQL server really runs and SQLAlchemy (psycopg 3) can use it."""

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def test_round_trip_through_a_table(postgres_url: str) -> None:
    url = sa.engine.make_url(postgres_url)
    assert url.host == "127.0.0.1" and url.database == "trainyard_test"

    engine = sa.create_engine(postgres_url)
    try:
        meta = sa.MetaData()
        points = sa.Table(
            "fixture_points",
            meta,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("key", sa.String(50), nullable=False),
            sa.Column("value", sa.Float, nullable=False),
        )
        meta.create_all(engine)
        with engine.begin() as conn:
            conn.execute(points.insert(), [{"key": "loss", "value": 2.5}, {"key": "loss", "value": 1.25}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(points.c.key, points.c.value).order_by(points.c.id)).all()
            server = conn.execute(sa.text("select current_database(), inet_server_addr()::text")).one()
        assert [tuple(r) for r in rows] == [("loss", 2.5), ("loss", 1.25)]
        assert server[0] == "trainyard_test"
        assert server[1].startswith("127.0.0.1")
        meta.drop_all(engine)
    finally:
        engine.dispose()
