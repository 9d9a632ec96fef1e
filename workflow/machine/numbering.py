"""Human dossier numbers: a PostgreSQL sequence, or a counter row on SQLite."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

SEQUENCE = "dossier_number_seq"
COUNTER = "dossier_number"


def next_dossier_number(session: Session) -> int:
    """The next number; on PostgreSQL a sequence never blocks concurrent deposits, and on
    SQLite writers are serialised anyway, so the counter row costs no concurrency."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text(f"SELECT nextval('{SEQUENCE}')")).scalar_one()
    return session.execute(
        text("UPDATE counters SET value = value + 1 WHERE name = :name RETURNING value"),
        {"name": COUNTER},
    ).scalar_one()
