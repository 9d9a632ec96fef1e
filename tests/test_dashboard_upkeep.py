"""The daily upkeep of the dashboard's indexes: statistics for the planners on both
databases, the search's FTS5 index merged on SQLite; once a day, by the scheduler's leader,
and the search finds the same dossiers afterwards."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from tests.conftest import World, at_paris
from workflow.instruction.dashboard import FTS, Filters, dossier_page
from workflow.models import Dossier
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import maintain_dashboard_indexes
from workflow.scheduling.scheduler import Leadership, Scheduler

NAMES = ("Lambourde Peggy", "Noël Œdipe", "Martin Paul", "Petit Anne")


def campaign_with_dossiers(sessions) -> int:
    """A campaign of four deposited dossiers whose candidates were renamed twice each, so
    that the FTS5 index holds several segments and the old names' tombstones."""
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation(name="Hôpital Béclère")
        dossiers = [world.dossier(campaign, hospital, "en_construction") for _ in NAMES]
        for suffix in ("ancien", ""):
            for dossier, name in zip(dossiers, NAMES, strict=True):
                with transaction(session):
                    dossier.candidate_name = f"{name} {suffix}".strip()
        return campaign.id


def planned_rows(connection: Connection) -> int | None:
    """How many dossiers the planner's statistics say there are (None: no statistics)."""
    if connection.dialect.name == "postgresql":
        # -1 until the table is first analysed (PostgreSQL 14 and later).
        rows = connection.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'dossiers'"))
        return None if rows < 0 else int(rows)
    if not connection.scalar(
        text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ):
        return None
    # One row per index, its first figure the rows the index holds: the unique index of the
    # numbers holds every dossier (not a partial index).
    stat = connection.scalar(
        text("SELECT stat FROM sqlite_stat1 WHERE idx = 'sqlite_autoindex_dossiers_1'")
    )
    return int(stat.split()[0]) if stat else None


def test_the_upkeep_runs_once_a_day_from_3_am_in_paris_and_refreshes_the_statistics(
    sessions, engine
):
    campaign_with_dossiers(sessions)
    with engine.connect() as connection:
        assert planned_rows(connection) is None

    assert maintain_dashboard_indexes(sessions, at_paris(2026, 3, 21, 2, 59)) == []
    assert maintain_dashboard_indexes(sessions, at_paris(2026, 3, 21, 3, 0)) == [
        "entretien-index:2026-03-21"
    ]
    with engine.connect() as connection:
        assert planned_rows(connection) == len(NAMES)
    assert maintain_dashboard_indexes(sessions, at_paris(2026, 3, 21, 23, 59)) == []
    # The next day's, late after a stop: at the first tick.
    assert maintain_dashboard_indexes(sessions, at_paris(2026, 3, 22, 17, 30)) == [
        "entretien-index:2026-03-22"
    ]


def test_the_search_finds_the_same_dossiers_after_the_upkeep(sessions, engine):
    campaign_id = campaign_with_dossiers(sessions)
    searches = ("peggy", "oedipe", "ancien", "beclere", "pau", "zzz")

    def found() -> dict[str, list[int]]:
        with sessions() as session:
            return {
                text_: [
                    d.id for d, _ in dossier_page(session, campaign_id, Filters(search=text_)).rows
                ]
                for text_ in searches
            }

    before = found()
    assert [len(before[t]) for t in searches] == [1, 1, 0, 4, 1, 0]
    assert maintain_dashboard_indexes(sessions, at_paris(2026, 3, 21, 3, 0))
    assert found() == before
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            # Raises if the merged index differs from the dossiers' search texts.
            connection.execute(
                text(f"INSERT INTO {FTS}({FTS}, rank) VALUES ('integrity-check', 1)")
            )
    # Written after the merge, still found: the triggers keep the merged index.
    with sessions() as session, transaction(session):
        dossier = session.get(Dossier, before["peggy"][0])
        dossier.candidate_name = "Ézéchiel Nouveau"
    with sessions() as session:
        rows = dossier_page(session, campaign_id, Filters(search="ezechiel")).rows
        assert [d.id for d, _ in rows] == before["peggy"]


def test_only_the_leader_keeps_the_indexes_up(sessions):
    campaign_with_dossiers(sessions)
    lease = dt.timedelta(seconds=60)
    leader = Scheduler(sessions, Leadership(sessions, ttl=lease))
    standby = Scheduler(sessions, Leadership(sessions, ttl=lease))
    three = at_paris(2026, 3, 21, 3, 0)

    assert "entretien-index:2026-03-21" in leader.tick(three).notices
    assert standby.tick(three + dt.timedelta(seconds=1)) is None
    assert "entretien-index:2026-03-21" not in leader.tick(three + dt.timedelta(seconds=30)).notices
