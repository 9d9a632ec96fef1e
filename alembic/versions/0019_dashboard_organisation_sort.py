"""dashboard: the sort by organisation on an index, and the counts from a smaller index.

The organisation's name is copied on each dossier (dossiers.organisation_name), filled for
the dossiers already there, with an index per campaign in the keyset order (name, id) of
deposited dossiers, like the other sorts of 0008: sorting by the joined organisations.name
sorted every dossier of the campaign on each page.

The counts per state and speciality (read on every page of the dashboard and by the
statistics, always of deposited dossiers) come from a partial index of the deposited
dossiers without their number: on PostgreSQL its keys repeat, and deduplicated it is a
third of 0008's (campaign_id, state, speciality, number), which it replaces under the same
name; SQLite reads it as fast.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_INDEX = "ix_dossiers_dashboard_organisation"
COUNTS_INDEX = "ix_dossiers_dashboard_counts"
DEPOSITED = sa.text("number IS NOT NULL")


def upgrade() -> None:
    # op.add_column, not batch_alter_table: SQLite adds a nullable column in place, where a
    # batch would rebuild the table and drop the triggers of the FTS5 index (see 0014).
    op.add_column("dossiers", sa.Column("organisation_name", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE dossiers SET organisation_name = "
        "(SELECT name FROM organisations WHERE organisations.id = dossiers.organisation_id)"
    )
    op.create_index(
        SORT_INDEX,
        "dossiers",
        ["campaign_id", "organisation_name", "id"],
        sqlite_where=DEPOSITED,
        postgresql_where=DEPOSITED,
    )
    op.drop_index(COUNTS_INDEX, table_name="dossiers")
    op.create_index(
        COUNTS_INDEX,
        "dossiers",
        ["campaign_id", "state", "speciality"],
        sqlite_where=DEPOSITED,
        postgresql_where=DEPOSITED,
    )


def downgrade() -> None:
    op.drop_index(COUNTS_INDEX, table_name="dossiers")
    op.create_index(COUNTS_INDEX, "dossiers", ["campaign_id", "state", "speciality", "number"])
    op.drop_index(SORT_INDEX, table_name="dossiers")
    # ALTER TABLE … DROP COLUMN on both (SQLite 3.35+): no rebuild, the FTS5 triggers stay.
    op.drop_column("dossiers", "organisation_name")
