"""dashboard indexes: one index per sort of the instructors' dashboard, per campaign, with
the id as tiebreaker (keyset pages); counts per state and speciality from one index; a
partial index of the decisions waiting for publication; a normalised search column, with a
trigram index on PostgreSQL when pg_trgm can be created
and an FTS5 trigram table kept by triggers on SQLite

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from workflow.plumbing.search_text import normalise

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEPOSITED = "number IS NOT NULL"
# (name, columns, deposited dossiers only)
INDEXES = [
    ("ix_dossiers_dashboard_number", ["campaign_id", "number"], True),
    ("ix_dossiers_dashboard_counts", ["campaign_id", "state", "speciality", "number"], False),
    ("ix_dossiers_dashboard_state", ["campaign_id", "state", "id"], True),
    ("ix_dossiers_dashboard_candidate", ["campaign_id", "candidate_name", "id"], True),
    ("ix_dossiers_dashboard_partner", ["campaign_id", "partner_name", "id"], True),
    ("ix_dossiers_dashboard_speciality", ["campaign_id", "speciality", "id"], True),
    ("ix_dossiers_dashboard_priority", ["campaign_id", "priority", "id"], True),
    ("ix_dossiers_dashboard_updated", ["campaign_id", "updated_at", "id"], True),
]
TRIGRAM = "ix_dossiers_search_text_trgm"
# SQLite: an FTS5 index of dossiers.search_text (external content: the text is stored once,
# in dossiers), with the trigram tokenizer, so that any part of 3 characters or more is
# found without reading the table; kept by triggers, whatever writes the column.
FTS = "dossiers_search"
FTS_SQL = [
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='dossiers', "
    "content_rowid='id', tokenize='trigram')",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
    f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON dossiers BEGIN "
    f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON dossiers BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "END",
    f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF search_text ON dossiers BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END",
]
BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    _fill_search_text()
    for name, columns, deposited_only in INDEXES:
        where = sa.text(DEPOSITED) if deposited_only else None
        op.create_index(
            name, "dossiers", columns, sqlite_where=where, postgresql_where=where, unique=False
        )
    unpublished = sa.text("published_at IS NULL")
    op.create_index(
        "ix_decisions_unpublished",
        "decisions",
        ["dossier_id"],
        sqlite_where=unpublished,
        postgresql_where=unpublished,
    )
    if op.get_bind().dialect.name == "postgresql" and _trigram_available():
        op.execute(f"CREATE INDEX {TRIGRAM} ON dossiers USING gin (search_text gin_trgm_ops)")
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_SQL:
            op.execute(statement)


def _fill_search_text() -> None:
    """The search text of the dossiers already there, computed as the ORM event does
    (workflow.models.dossier.search_text), by batches of ids."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT d.id, d.number, o.name, d.partner_name, d.candidate_name, d.speciality "
            "FROM dossiers d JOIN organisations o ON o.id = d.organisation_id ORDER BY d.id"
        )
    ).all()
    update = sa.text("UPDATE dossiers SET search_text = :text WHERE id = :id")
    for start in range(0, len(rows), BATCH):
        values = [
            {
                "id": row[0],
                "text": normalise(" ".join(str(p) for p in row[1:] if p not in (None, ""))),
            }
            for row in rows[start : start + BATCH]
        ]
        bind.execute(update, values)


def _trigram_available() -> bool:
    """Creates pg_trgm if it can be; without it (no contrib package, no right to create an
    extension) the migration still succeeds and the search is a plain LIKE."""
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        print("pg_trgm cannot be created: the dashboard's search runs without its index")
        return False
    savepoint.commit()
    return True


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM}")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.drop_index("ix_decisions_unpublished", table_name="decisions")
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="dossiers")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("search_text")
