"""Engines, sessions and transactions, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import contextvars
import os
import select
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from workflow.plumbing import pg_cursor
from workflow.plumbing.errors import ConflictError, SchemaBehind

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE = ROOT / "instance" / "postes-partages.sqlite3"

# Set while a write transaction begins, so that SQLite takes its write lock at BEGIN
# (BEGIN IMMEDIATE) instead of failing later when a read transaction tries to write.
_immediate = contextvars.ContextVar("immediate", default=False)


def database_url() -> str:
    """DATABASE_URL, or the SQLite file under instance/."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE}"


def make_engine(url: str | None = None, **options: object) -> Engine:
    """An engine configured for the dialect (SQLite: WAL, busy timeout, foreign keys;
    PostgreSQL: connections the server closed are replaced when taken from the pool)."""
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, **options)
    _replace_closed_connections(engine)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "connect", _lazy_descriptions)
    return engine


def _lazy_descriptions(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.cursor_factory = pg_cursor.Cursor


def _replace_closed_connections(engine: Engine) -> None:
    """A pooled connection the server has closed (a restart, an administrator's
    pg_terminate_backend, an idle timeout) is replaced when it is taken from the pool.

    Why not `pool_pre_ping`: its ping is one round trip more on every request, where the
    barest save of a volet makes three (BEGIN, UPDATE, COMMIT). A server that ends a
    connection sends its error and closes the socket, so an idle pooled connection with
    something to read (or hung up) is a dead one: one `poll()` with no wait tells it.
    What neither check sees in time is a connection silently dropped on the way (a firewall
    forgetting it): the ping would block on it as long as the next query does. A connection
    that dies between this check and its first query fails that request; SQLAlchemy then
    sees the disconnection and replaces every connection of the pool opened before it."""

    @event.listens_for(engine, "checkout")
    def still_open(dbapi_connection, record, proxy) -> None:  # type: ignore[no-untyped-def]
        if _closed_by_server(dbapi_connection):
            # The pool drops this connection and hands out a new one.
            raise DisconnectionError("the server closed this pooled connection")


def _closed_by_server(dbapi_connection) -> bool:  # type: ignore[no-untyped-def]
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    # Assumption: a POSIX host (select.poll), as in production. A pooled connection is
    # between transactions, its answers all read: the server sends nothing unasked (no
    # LISTEN here), so anything to read is its farewell; a false alarm costs a reconnection.
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _configure_sqlite(engine: Engine) -> None:
    """SQLAlchemy's SQLite recipe: let SQLAlchemy emit BEGIN itself, then choose its kind."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (pages render after the commit)."""
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(session: Session, write: bool = True) -> Iterator[Session]:
    """One database transaction: committed at the end, rolled back on any error.

    Lost races surface as ConflictError: a stale version counter at flush (the other writer
    won), or a lock or serialisation failure reported by the database.
    """
    if session.info.get("in_transaction"):
        raise RuntimeError("transaction() is not reentrant: one change, one transaction")
    token = _immediate.set(write)
    session.info["in_transaction"] = True
    try:
        if session.in_transaction() and _continues_reads(session):
            # PostgreSQL at READ COMMITTED: the read transaction that loading objects began
            # sees each committed change anyway, so the write goes on in it (one COMMIT and
            # one BEGIN fewer per request); the version counters catch a lost race as before.
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        else:
            if session.in_transaction():
                session.commit()  # ends the read transaction that loading objects began
            with session.begin():
                yield session
    except StaleDataError as exc:
        raise ConflictError() from exc
    except OperationalError as exc:
        if _is_lock_failure(exc):
            raise ConflictError() from exc
        raise
    except DBAPIError as exc:
        if _is_serialisation_failure(exc):
            raise ConflictError() from exc
        raise
    finally:
        session.info["in_transaction"] = False
        _immediate.reset(token)


def _continues_reads(session: Session) -> bool:
    """Whether a write may go on in the session's read transaction: not on SQLite, whose
    read transaction cannot always become a write one (the write lock is taken at BEGIN
    IMMEDIATE, see `_immediate`)."""
    return session.get_bind().dialect.name != "sqlite"


def _is_lock_failure(exc: OperationalError) -> bool:
    return "database is locked" in str(exc.orig) or _is_serialisation_failure(exc)


def _is_serialisation_failure(exc: DBAPIError) -> bool:
    # PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
    return getattr(exc.orig, "sqlstate", None) in {"40001", "40P01", "55P03"}


def alembic_config(url: str | None = None):  # type: ignore[no-untyped-def]
    """The Alembic configuration of the project, pointed at `url`."""
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = url or database_url()
    return config


def migrate(url: str | None = None) -> None:
    """Brings the schema to the latest migration (the only way the schema is created)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def check_schema_current(engine: Engine) -> None:
    """Refuses a database that is behind (or ahead of) the code's migrations."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        raise SchemaBehind(
            f"The database is at migration {current or 'none'} but the code expects {head}: "
            "run `python run.py migrate` (or `make run`, which migrates) first."
        )
