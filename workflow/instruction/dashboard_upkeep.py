"""The upkeep of what the instructors' dashboard reads, once a day by the scheduler's leader
(workflow.scheduling.jobs.maintain_dashboard_indexes).

The planners choose an index from the statistics of the tables. Nothing writes them on
SQLite: without them, a search walks all the campaign's dossiers in number order, checking
each against the FTS5 matches (30 ms at 100,000), where with them it reads the matches
first (3 ms); and a campaign grown from 1,000 to 100,000 dossiers would be planned from the
figures of its first days. PostgreSQL's autovacuum refreshes a table once a tenth of it has
changed; the daily ANALYZE is a floor where it lags or is turned off. On SQLite, the FTS5
index of the search (migration 0008) also grows a segment with each write of a dossier's
search text, the old entries kept as tombstones until merged: « optimize » merges them into
one b-tree, the quickest to read.

A campaign's closing changes the dossiers' states in bulk but neither the search text (the
FTS5 index is untouched) nor the shape of the indexes the statistics describe: the daily
run is enough after it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from workflow.instruction.dashboard import FTS

# The tables a dashboard page reads beyond a row by its key: the dossiers and their
# organisations, decisions (unpublished ones), messages (unread ones), pieces (the
# completeness), and the outbox (the campaign's failed mails).
TABLES = ("dossiers", "organisations", "decisions", "messages", "attachments", "outbox")
# SQLite: rows read per index by ANALYZE (its documentation's advice for a periodic run),
# so that the statistics of 100,000 dossiers take milliseconds, not a full read of each
# of their indexes under the write lock.
ANALYSIS_LIMIT = 1000


def refresh_dashboard_indexes(session: Session) -> None:
    """Refreshes the planner's statistics of the tables the dashboard reads (ANALYZE, on
    both databases) and, on SQLite, merges the search's FTS5 index into one b-tree. In the
    caller's transaction; running it twice only does the same work again."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Explicit ANALYZE rather than PRAGMA optimize: before SQLite 3.46, optimize only
        # looks at the tables this connection has queried, none in a new one.
        session.execute(text(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}"))
        try:
            for table in TABLES:
                session.execute(text(f"ANALYZE {table}"))
        finally:
            session.execute(text("PRAGMA analysis_limit = 0"))
        session.execute(text(f"INSERT INTO {FTS}({FTS}) VALUES ('optimize')"))
    elif dialect == "postgresql":
        # Runs inside a transaction (VACUUM would not) and blocks neither reads nor writes.
        session.execute(text(f"ANALYZE {', '.join(TABLES)}"))
