"""Campaign definitions in the database: date columns, versions, and the version a dossier
keeps. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from sqlalchemy import func, select

from tests.conftest import definition
from workflow.campaigns import store
from workflow.campaigns.store import definition_of, store_campaign
from workflow.models import Campaign, CampaignVersion
from workflow.plumbing.db import make_engine, make_session_factory, transaction


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def stored(session, **overrides):  # type: ignore[no-untyped-def]
    with transaction(session):
        return store_campaign(session, definition(**overrides), source="test.yaml")


def reread(session, slug: str = "test-asp") -> Campaign:  # type: ignore[no-untyped-def]
    """The campaign as the database gives it back (not the object still in the session)."""
    session.expire_all()
    with transaction(session, write=False):
        return session.scalars(select(Campaign).where(Campaign.slug == slug)).one()


def version_count(session, campaign_id: int) -> int:  # type: ignore[no-untyped-def]
    with transaction(session, write=False):
        return session.scalar(
            select(func.count()).where(CampaignVersion.campaign_id == campaign_id)
        )


@pytest.fixture
def fresh_definition_cache(monkeypatch):  # type: ignore[no-untyped-def]
    # definition_of caches by version id alone; every test database numbers its versions
    # from 1, so another test's cached definition would answer for ours.
    monkeypatch.setattr(store, "_definitions", {})


def test_storing_a_definition_creates_the_campaign_with_its_date_columns(session):
    loaded = stored(session)
    assert (loaded.created, loaded.new_version, loaded.version.version) == (True, True, 1)
    campaign = reread(session)
    assert campaign.title == "Assistants spécialistes partagés (test)"
    assert campaign.agency == "ARS Île-de-France"
    assert campaign.contact_email == "ars-idf-asp@ars.sante.fr"
    assert campaign.current_version == 1
    assert campaign.publication == "grouped"
    assert campaign.demo is False
    # Opening at midnight in Paris, 5 January 2026 (winter time, UTC+1).
    assert campaign.opens_at == utc(2026, 1, 4, 23, 0)
    # "jusqu'au 20 mars 2026 inclus": refused from midnight in Paris, winter time.
    assert campaign.deadline_at == utc(2026, 3, 20, 23, 0)
    assert campaign.deadline_whole_day is True
    assert (campaign.confirmation_start, campaign.confirmation_end) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 10, 31),
    )
    assert campaign.start_dates == ["2026-11-02"]
    assert loaded.version.source == "test.yaml"


def test_a_deadline_with_a_time_ends_at_that_time_in_paris(session):
    stored(session, opens="2025-01-06", deadline="2025-02-14T12:00")
    campaign = reread(session)
    assert campaign.deadline_at == utc(2025, 2, 14, 11, 0)
    assert campaign.deadline_whole_day is False


def test_a_summer_deadline_day_ends_at_22_utc(session):
    stored(session, deadline=dt.date(2026, 6, 30))
    campaign = reread(session)
    assert campaign.deadline_at == utc(2026, 6, 30, 22, 0)
    assert campaign.deadline_whole_day is True


def test_a_deadline_at_midnight_is_that_instant_not_the_whole_day(session):
    stored(session, opens="2025-01-06", deadline="2025-02-15T00:00")
    campaign = reread(session)
    assert campaign.deadline_whole_day is False
    assert campaign.deadline_at == utc(2025, 2, 14, 23, 0)


def test_storing_the_same_definition_again_makes_no_new_version(session):
    first = stored(session)
    again = stored(session)
    assert (again.created, again.new_version) == (False, False)
    assert again.version.id == first.version.id
    assert version_count(session, first.campaign.id) == 1
    assert reread(session).current_version == 1


def relabelled(label: str):  # type: ignore[no-untyped-def]
    volets = [v.model_dump() for v in definition().volets]
    volets[1]["fields"] = [
        {**f, "label": label} if f["key"] == "nom" else f for f in volets[1]["fields"]
    ]
    return volets


def test_a_changed_label_makes_version_2_and_old_dossiers_keep_version_1(
    world, session, fresh_definition_cache
):
    campaign = world.campaign()
    hospital = world.organisation()
    started_before = world.dossier(campaign, hospital)
    first_version_id = started_before.campaign_version_id

    loaded = stored(session, volets=relabelled("Nom de naissance"))

    assert (loaded.created, loaded.new_version, loaded.version.version) == (False, True, 2)
    assert reread(session).current_version == 2
    assert version_count(session, campaign.id) == 2
    session.expire_all()
    with transaction(session, write=False):
        session.refresh(started_before)
        assert started_before.campaign_version_id == first_version_id
        assert definition_of(session, first_version_id).field("candidat.nom").label == "Nom"
        new = definition_of(session, loaded.version.id)
        assert new.field("candidat.nom").label == "Nom de naissance"
    started_after = world.dossier(campaign, hospital)
    assert started_after.campaign_version_id == loaded.version.id


def test_changing_only_the_dates_updates_the_columns_without_a_new_version(session):
    first = stored(session)
    later = stored(
        session,
        opens=dt.date(2026, 1, 12),
        deadline=dt.date(2026, 4, 10),
        confirmation_window={"start": "2026-10-05", "end": "2026-10-30"},
        start_dates=["2026-11-03", "2027-05-03"],
    )
    assert (later.new_version, later.version.id) == (False, first.version.id)
    campaign = reread(session)
    assert campaign.current_version == 1
    assert campaign.opens_at == utc(2026, 1, 11, 23, 0)
    # 10 April is in summer time: midnight in Paris is 22:00 UTC.
    assert campaign.deadline_at == utc(2026, 4, 10, 22, 0)
    assert (campaign.confirmation_start, campaign.confirmation_end) == (
        dt.date(2026, 10, 5),
        dt.date(2026, 10, 30),
    )
    assert campaign.start_dates == ["2026-11-03", "2027-05-03"]


def test_a_demo_campaign_keeps_the_dates_of_its_first_load(session):
    first = stored(session, demo=True, opens=dt.date(2026, 5, 1), deadline=dt.date(2026, 6, 1))
    again = stored(session, demo=True, opens=dt.date(2026, 5, 2), deadline=dt.date(2026, 6, 2))
    assert (again.new_version, again.version.id) == (False, first.version.id)
    campaign = reread(session)
    assert campaign.demo is True
    assert campaign.opens_at == utc(2026, 4, 30, 22, 0)
    assert campaign.deadline_at == utc(2026, 6, 1, 22, 0)


def test_definition_of_reads_the_database_it_is_given(tmp_path, sqlite_template, monkeypatch):
    monkeypatch.setattr(store, "_definitions", {})
    labels = {}
    for name, title in (("a", "Appel A"), ("b", "Appel B")):
        path = tmp_path / f"{name}.sqlite3"
        shutil.copy(sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        with make_session_factory(engine)() as session:
            loaded = stored(session, title=title)
            with transaction(session, write=False):
                labels[name] = definition_of(session, loaded.version.id).title
        engine.dispose()
    assert labels == {"a": "Appel A", "b": "Appel B"}


def test_reloading_the_same_file_keeps_a_deadline_an_administrator_moved(session):
    import datetime as dt

    from tests.conftest import definition
    from workflow.administration.campaigns import change_deadline
    from workflow.campaigns.store import store_campaign
    from workflow.people.actors import Actor
    from workflow.plumbing.db import transaction

    admin = Actor("administrateur", None, None, "admin@ars.example.fr")
    with transaction(session):
        campaign = store_campaign(session, definition()).campaign
    with transaction(session):
        change_deadline(session, campaign, dt.date(2026, 3, 27), admin, "Panne du site")
    moved = campaign.deadline_at
    with transaction(session):
        store_campaign(session, definition())  # make run reloads every file
    assert campaign.deadline_at == moved
    with transaction(session):
        store_campaign(session, definition(deadline=dt.date(2026, 4, 3)))  # the file changed
    assert campaign.deadline_at == dt.datetime(2026, 4, 3, 22, tzinfo=dt.UTC)
