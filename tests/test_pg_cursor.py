"""The PostgreSQL cursors of `make_engine` describe their results lazily
(`workflow.plumbing.pg_cursor`): the description must read as psycopg's own, whatever the
cursor did since, and what SQLAlchemy builds from it must not change."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import select, text

from workflow.models import Organisation
from workflow.plumbing import pg_cursor
from workflow.plumbing.db import make_engine, make_session_factory, transaction

QUERY = "SELECT 1 AS un, 'deux'::varchar(12) AS deux, now() AS quand, NULL::numeric(5, 2) AS prix"


@pytest.fixture
def pg_engine(postgres_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def test_the_engines_cursors_describe_lazily(pg_engine) -> None:  # type: ignore[no-untyped-def]
    with pg_engine.connect() as connection:
        cursor = connection.connection.cursor()
        assert isinstance(cursor, pg_cursor.Cursor)
        cursor.execute(QUERY)
        assert isinstance(cursor.description, pg_cursor.LazyColumns)


def test_a_lazy_description_reads_as_psycopgs_own(postgres_url: str) -> None:
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as plain, psycopg.connect(url) as lazy:
        lazy.cursor_factory = pg_cursor.Cursor
        expected = plain.execute(QUERY).description
        described = lazy.execute(QUERY).description
        assert len(described) == len(expected) == 4
        assert [tuple(c) for c in described] == [tuple(c) for c in expected]
        assert [c.name for c in described] == ["un", "deux", "quand", "prix"]
        assert [c.type_display for c in described] == [c.type_display for c in expected]
        assert described[1].type_display == "varchar(12)"
        assert described[-1].precision == 5 and described[-1].scale == 2


def test_a_description_kept_describes_its_own_result_after_the_cursor_moved_on(
    postgres_url: str,
) -> None:
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, cursor_factory=pg_cursor.Cursor) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT 1 AS premier")
        kept = cursor.description
        cursor.execute("SELECT 'a' AS autre, 2 AS encore")
        assert [c.name for c in kept] == ["premier"]
        assert [c.name for c in cursor.description] == ["autre", "encore"]


def test_statements_without_rows_still_have_no_description(postgres_url: str) -> None:
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, cursor_factory=pg_cursor.Cursor) as connection:
        cursor = connection.cursor()
        cursor.execute("CREATE TEMPORARY TABLE t (x int)")
        assert cursor.description is None
        cursor.execute("SELECT ;")  # rows of no column: described as psycopg does, empty
        assert cursor.description == []


def test_sqlalchemy_reads_rows_through_them_cached_or_not(pg_engine) -> None:  # type: ignore[no-untyped-def]
    sessions = make_session_factory(pg_engine)
    name = f"CH de Lannion {uuid.uuid4().hex}"  # the database is shared with other tests
    with sessions() as session, transaction(session):
        session.add(Organisation(type="etablissement_sante", name=name, finess="220000046"))
    mine = Organisation.name == name
    for _ in range(2):  # the second run goes through SQLAlchemy's cached result columns
        with sessions() as session:
            row = session.execute(select(Organisation.id, Organisation.name).where(mine)).one()
            assert row.name == name and row._mapping["id"] == row[0]
            assert session.scalars(select(Organisation).where(mine)).one().id == row.id
        with pg_engine.connect() as connection:
            result = connection.exec_driver_sql(QUERY)
            assert list(result.keys()) == ["un", "deux", "quand", "prix"]
            assert result.one().deux == "deux"
            assert connection.execute(text("SELECT 2 AS deux")).mappings().one() == {"deux": 2}
