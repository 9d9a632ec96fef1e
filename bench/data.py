"""Test data for the benchmarks: a campaign of many deposited dossiers."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from tests.conftest import COMPLETE_VALUES, definition
from workflow.campaigns.store import store_campaign
from workflow.instruction.dashboard_upkeep import refresh_dashboard_indexes
from workflow.models import Dossier, Organisation, User
from workflow.plumbing.db import make_engine, make_session_factory, migrate, transaction
from workflow.plumbing.search_text import normalise

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ORGANISATIONS = 500
SPECIALITIES = ("Dermatologie", "Cardiologie", "Pédiatrie", "Psychiatrie", "Gériatrie")
STATES = ("en_construction", "en_instruction", "accepte", "refuse", "brouillon")


def populate(
    url: str, count: int, states: tuple[str, ...] = ("en_construction",)
) -> tuple[int, int]:
    """A campaign with `count` en_construction dossiers spread over 500 hospitals, each with
    one déposant user; returns (campaign id, an instructeur's user id)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session, transaction(session):
        tag = uuid.uuid4().hex[:4].upper()
        loaded = store_campaign(session, definition(slug=f"bench-{tag.lower()}"))
        campaign_id, version_id = loaded.campaign.id, loaded.version.id
        orgs = [
            Organisation(type="etablissement_sante", name=f"CH {i}", finess=f"{tag}{i:05d}")
            for i in range(ORGANISATIONS)
        ]
        session.add_all(orgs)
        session.flush()
        session.add_all(
            User(
                email=f"bam{o.id}@ch.example.fr",
                password_hash="x",
                role="deposant",
                organisation_id=o.id,
            )
            for o in orgs
        )
        instructeur = User(
            email=f"instr-{tag}@ars.example.fr", password_hash="x", role="instructeur"
        )
        session.add(instructeur)
        session.flush()
        org_ids = [o.id for o in orgs]
        names = {o.id: o.name for o in orgs}
        instructeur_id = instructeur.id
    with engine.connect() as connection:
        first = connection.scalar(select(func.coalesce(func.max(Dossier.number), 0))) + 1
    rows = [
        {
            "campaign_id": campaign_id,
            "campaign_version_id": version_id,
            "organisation_id": org_ids[i % ORGANISATIONS],
            "state": states[i % len(states)],
            "values": COMPLETE_VALUES,
            "attestations": ["complet"],
            "consent": True,
            "number": first + i,
            "deposited_at": NOW,
            "created_at": NOW,
            "updated_at": NOW,
            "candidate_name": f"Candidat {first + i} {uuid.uuid4().hex[:6]}",
            "partner_name": f"CHU partenaire {i % 97}",
            "speciality": SPECIALITIES[i % len(SPECIALITIES)],
            "version": 1,
        }
        for i in range(count)
    ]
    for row in rows:
        # What the ORM event of workflow.models.dossier writes; a bulk INSERT bypasses it.
        row["organisation_name"] = names[row["organisation_id"]]
        parts = (row["number"], names[row["organisation_id"]], row["partner_name"])
        row["search_text"] = normalise(
            " ".join(str(p) for p in (*parts, row["candidate_name"], row["speciality"]))
        )
    with engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(insert(Dossier.__table__), rows[start : start + 10_000])
    engine.dispose()
    return campaign_id, instructeur_id


def analyse(url: str) -> None:
    """Statistics and visibility map as a live database has them: PostgreSQL's autovacuum
    (VACUUM ANALYZE), on SQLite the scheduler's daily upkeep of the dashboard's indexes
    (limited ANALYZE, FTS5 index merged). A table just filled by one INSERT has neither,
    and both planners then guess."""
    if url.startswith("postgresql"):
        engine = make_engine(url, isolation_level="AUTOCOMMIT")  # VACUUM: no transaction
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        engine = make_engine(url)
        with make_session_factory(engine)() as session, transaction(session):
            refresh_dashboard_indexes(session)
    engine.dispose()


def migrated_databases() -> Iterator[tuple[str, str]]:
    """A fresh SQLite file, then a database of our own on the PostgreSQL server when
    BENCH_POSTGRES_URL or TEST_POSTGRES_URL names one; each dropped afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.sqlite3"
        migrate(url)
        yield "SQLite", url
    base = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if not base:
        print("PostgreSQL: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)")
        return
    admin_url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"pp_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield "PostgreSQL", url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
