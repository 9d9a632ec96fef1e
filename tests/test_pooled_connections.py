"""PostgreSQL connections kept in the pool: one the server has ended (a restart, an
administrator's pg_terminate_backend) is replaced when a request takes it, so that the
request does not fail; and taking a live one sends nothing to the server."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from workflow.plumbing.db import make_engine


@pytest.fixture
def engine(postgres_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _terminate(url: str, pid: int) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        ended = connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert ended.scalar() is True
        # The backend is gone once it no longer shows in pg_stat_activity.
        connection.execute(
            text(
                "DO $$ BEGIN WHILE EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = "
                f"{int(pid)}) LOOP PERFORM pg_sleep(0.01); END LOOP; END $$"
            )
        )
    admin.dispose()


def test_a_pooled_connection_the_server_ended_is_replaced_without_an_error(
    engine, postgres_url: str
) -> None:
    with engine.connect() as connection:
        first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _terminate(postgres_url, first)
    with engine.connect() as connection:
        second = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert second != first


def test_taking_a_live_connection_from_the_pool_sends_nothing(engine) -> None:
    with engine.connect() as connection:
        first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    raw = engine.pool._pool.queue[0].dbapi_connection  # type: ignore[attr-defined]
    sent: list[str] = []
    original = raw.cursor

    def cursor(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append("cursor")
        return original(*args, **kwargs)

    raw.cursor = cursor
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is raw
        assert sent == []  # no ping: the first cursor is the query's own
        again = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert again == first
    assert sent == ["cursor"]
