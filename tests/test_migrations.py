"""The schema comes from the migrations only: the app refuses a database that is behind, and
the models match what the migrations build, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from tests.conftest import TEST_SECRET_KEY, definition
from web import create_app
from workflow.campaigns.store import store_campaign
from workflow.models import Base, Campaign, Dossier
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import (
    check_schema_current,
    make_engine,
    make_session_factory,
    migrate,
    transaction,
)
from workflow.plumbing.errors import SchemaBehind


def home_page(url: str):  # type: ignore[no-untyped-def]
    """GET / on an app built for `url`; its engine is closed afterwards."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": TEST_SECRET_KEY})
    try:
        return app.test_client().get("/")
    finally:
        app.extensions["db_sessions"].kw["bind"].dispose()


def test_the_app_refuses_a_database_never_migrated_and_says_how_to_fix_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    with pytest.raises(SchemaBehind) as refused:
        create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": TEST_SECRET_KEY})
    assert "python run.py migrate" in str(refused.value)
    assert "migration none" in str(refused.value)


def section(html: str, title: str) -> str:
    """The part of the page under the heading `title`, up to the next heading."""
    start = html.index(f"<h2>{title}</h2>")
    end = html.find("<h2>", start + 1)
    return html[start : end if end != -1 else len(html)]


def test_after_migrate_the_home_page_lists_the_open_campaigns_of_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate(url)
    today = paris_date(clock.now())
    engine = make_engine(url)
    with make_session_factory(engine)() as session, transaction(session):
        store_campaign(
            session,
            definition(
                slug="appel-ouvert",
                title="Appel ouvert aux assistants",
                opens=today - dt.timedelta(days=10),
                deadline=today + dt.timedelta(days=20),
            ),
        )
        store_campaign(
            session,
            definition(
                slug="appel-clos",
                title="Appel clos des assistants",
                opens=today - dt.timedelta(days=60),
                deadline=today - dt.timedelta(days=30),
            ),
        )
    engine.dispose()

    response = home_page(url)

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    open_now = section(html, "Ouverts")
    assert "Appel ouvert aux assistants" in open_now
    assert "Appel clos des assistants" not in open_now
    assert "Appel clos des assistants" in section(html, "Clos")


def test_the_app_starts_on_a_migrated_database_of_each_kind(db_url):
    response = home_page(db_url)
    assert response.status_code == 200
    assert "Aucun appel à candidatures n'est ouvert en ce moment." in response.get_data(
        as_text=True
    )


def only_in_the_models_or_both(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # The dashboard's search indexes (migration 0008) are one database's own: a trigram
    # index where PostgreSQL has pg_trgm, an FTS5 table (and its shadow tables) on SQLite;
    # the models cannot say so, and they are left out of the comparison.
    return name != "ix_dossiers_search_text_trgm" and not (
        type_ == "table" and name.startswith("dossiers_search")
    )


def test_the_models_match_the_migrations(db_url):
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_object": only_in_the_models_or_both},
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_the_migrated_database_has_every_table_of_the_models(db_url):
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrating_twice_is_harmless_and_keeps_the_data(db_url):
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session, transaction(session):
            store_campaign(session, definition())
        migrate(db_url)
        migrate(db_url)
        check_schema_current(engine)
        with make_session_factory(engine)() as session:
            slugs = session.scalars(select(Campaign.slug)).all()
    finally:
        engine.dispose()
    assert slugs == ["test-asp"]


def test_a_fresh_file_migrated_twice_is_current(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate(url)
    migrate(url)
    engine = make_engine(url)
    try:
        check_schema_current(engine)
    finally:
        engine.dispose()


def test_sessions_and_security_journal_go_down_and_up_again(tmp_path):
    from alembic import command
    from workflow.plumbing.db import alembic_config

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate(url)
    command.downgrade(alembic_config(url), "0005")
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert not {"sign_in_sessions", "security_events"} & tables
        migrate(url)
        check_schema_current(engine)
    finally:
        engine.dispose()


def test_the_dashboard_search_of_dossiers_already_there_works_after_migration_0008(db_url):
    """0008 fills the search column of the dossiers it finds and indexes them (FTS5 on
    SQLite, trigram on PostgreSQL): migrated down to 0006 and up again, a dossier is found."""
    from alembic import command
    from tests.conftest import World
    from workflow.instruction.dashboard import Filters, dossier_page
    from workflow.plumbing.db import alembic_config

    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            world = World(session)
            campaign = world.campaign()
            dossier = world.dossier(
                campaign, world.organisation(name="Hôpital Béclère"), "en_construction"
            )
            campaign_id, dossier_id = campaign.id, dossier.id
        engine.dispose()
        command.downgrade(alembic_config(db_url), "0006")
        migrate(db_url)
        with make_session_factory(engine)() as session:
            page = dossier_page(session, campaign_id, Filters(search="beclere"))
            assert [d.id for d, _ in page.rows] == [dossier_id]
    finally:
        engine.dispose()


def test_a_dossier_written_after_migration_0014_is_found_by_the_search(db_url):
    """0014 changes the dossiers table's CHECK (SQLite rebuilds the table): the triggers that
    keep the search index are put back, so a dossier saved afterwards is found, and one on
    the new « liste complémentaire » state is allowed."""
    from tests.conftest import World
    from workflow.instruction.dashboard import Filters, dossier_page

    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            world = World(session)
            campaign = world.campaign()
            dossier = world.dossier(
                campaign, world.organisation(name="Hôpital Béclère"), "liste_complementaire"
            )
            with transaction(session):
                dossier.candidate_name = "Ézéchiel Nouveau"
            page = dossier_page(session, campaign.id, Filters(search="ezechiel"))
            assert [d.id for d, _ in page.rows] == [dossier.id]
            assert dossier.decision.kind == "liste_complementaire"
    finally:
        engine.dispose()


def test_migration_0019_copies_the_organisations_names_of_the_dossiers_already_there(db_url):
    """0019 adds the organisation's name to the dossiers for the sort by organisation and
    fills it for those already there: migrated down to 0018 and up again, the dossiers sort
    by their organisations' names and are still found by the search."""
    from alembic import command
    from tests.conftest import World
    from workflow.instruction.dashboard import Filters, dossier_page
    from workflow.plumbing.db import alembic_config

    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            world = World(session)
            campaign = world.campaign()
            zola = world.dossier(campaign, world.organisation(name="CH Zola"), "en_construction")
            ader = world.dossier(campaign, world.organisation(name="CH Ader"), "en_instruction")
            campaign_id, expected = campaign.id, [ader.id, zola.id]
        engine.dispose()
        command.downgrade(alembic_config(db_url), "0018")
        with engine.connect() as connection:
            assert "organisation_name" not in {
                c["name"] for c in inspect(connection).get_columns("dossiers")
            }
        engine.dispose()
        migrate(db_url)
        with make_session_factory(engine)() as session:
            page = dossier_page(session, campaign_id, Filters(sort="organisation"))
            assert [d.id for d, _ in page.rows] == expected
            assert [d.organisation_name for d, _ in page.rows] == ["CH Ader", "CH Zola"]
            found = dossier_page(session, campaign_id, Filters(search="zola"))
            assert [d.id for d, _ in found.rows] == [zola.id]
            # Neither way rebuilt the table: SQLite's triggers still keep the search's index.
            with transaction(session):
                session.get(Dossier, zola.id).candidate_name = "Ézéchiel Nouveau"
            found = dossier_page(session, campaign_id, Filters(search="ezechiel"))
            assert [d.id for d, _ in found.rows] == [zola.id]
    finally:
        engine.dispose()
