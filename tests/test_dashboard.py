"""The instructor's table of a campaign: counts, filters, search, sort and pages."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import select

from workflow.instruction import dashboard
from workflow.instruction.dashboard import (
    PAGE_SIZE,
    SORTS,
    Filters,
    counts_by_state,
    dossier_page,
    specialities,
)
from workflow.models import Dossier, Organisation
from workflow.plumbing.db import transaction


def campaign_of(world, session, names):
    campaign = world.campaign()
    hospital = world.organisation(name="CH de Gonesse")
    dossiers = []
    for index, (name, speciality, state) in enumerate(names):
        dossier = world.dossier(campaign, hospital, state)
        with transaction(session):
            dossier.candidate_name = name
            dossier.speciality = speciality
            dossier.number = 5000 + index
        dossiers.append(dossier)
    return campaign, dossiers


NAMES = [
    ("Lambourde Peggy", "Dermatologie", "en_construction"),
    ("Martin Paul", "Cardiologie", "en_instruction"),
    ("Petit_Jean Anne", "Dermatologie", "en_instruction"),
]


def test_counts_and_specialities(world, session):
    campaign, _ = campaign_of(world, session, NAMES)
    assert counts_by_state(session, campaign.id) == {"en_construction": 1, "en_instruction": 2}
    assert specialities(session, campaign.id) == ["Cardiologie", "Dermatologie"]


def test_filters_search_and_sort(world, session):
    campaign, dossiers = campaign_of(world, session, NAMES)

    def names(**filters):
        page = dossier_page(session, campaign.id, Filters(**filters))
        return [d.candidate_name for d, _ in page.rows]

    assert names(state="en_instruction", sort="candidat") == ["Martin Paul", "Petit_Jean Anne"]
    assert names(speciality="Dermatologie", sort="candidat", descending=True) == [
        "Petit_Jean Anne",
        "Lambourde Peggy",
    ]
    assert names(search="LAMBOURDE") == ["Lambourde Peggy"]
    assert names(search="5001") == ["Martin Paul"]
    assert names(search="gonesse", sort="numero") == [n for n, _, _ in NAMES]
    assert names(search="_") == ["Petit_Jean Anne"]  # a wildcard character is searched as such
    assert names(search="%") == []
    page = dossier_page(session, campaign.id, Filters())
    assert page.rows[0][1] == "CH de Gonesse"


def test_pages_hold_fifty_dossiers_and_lead_to_the_next_and_the_last(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    dossiers = [world.dossier(campaign, hospital, "en_construction") for _ in range(PAGE_SIZE + 3)]
    first = dossier_page(session, campaign.id, Filters())
    assert (first.total, len(first.rows), first.has_previous, first.has_next) == (
        53,
        50,
        False,
        True,
    )
    second = dossier_page(session, campaign.id, Filters(after=first.last_id))
    assert [d.id for d, _ in second.rows] == [d.id for d in dossiers[50:]]
    assert (second.has_previous, second.has_next) == (True, False)
    last = dossier_page(session, campaign.id, Filters(last=True))
    assert [d.id for d, _ in last.rows] == [d.id for d in dossiers[3:]]
    assert (last.has_previous, last.has_next) == (True, False)
    back = dossier_page(session, campaign.id, Filters(before=second.first_id))
    assert [d.id for d, _ in back.rows] == [d.id for d, _ in first.rows]
    assert (back.has_previous, back.has_next) == (False, True)


def test_a_page_after_a_dossier_that_is_gone_or_elsewhere_is_the_first_page(world, session):
    campaign, dossiers = campaign_of(world, session, NAMES)
    other = world.campaign(slug="autre-campagne")
    elsewhere = world.dossier(other, world.organisation(), "en_construction")
    for anchor in (elsewhere.id, 2_000_000_000):
        page = dossier_page(session, campaign.id, Filters(after=anchor))
        assert [d.id for d, _ in page.rows] == [d.id for d in dossiers]
        assert not page.has_previous


SORTED = [
    # candidate, partner, speciality, priority: ties and empty values on purpose
    ("Bernard", "CHU B", "Cardiologie", 2),
    ("Adam", None, "Cardiologie", None),
    ("Bernard", "CHU A", None, 1),
    (None, "CHU B", "Dermatologie", 2),
    ("Adam", "CHU A", "Cardiologie", None),
    ("Claude", None, None, 3),
    (None, None, "Dermatologie", 1),
    ("Adam", "CHU C", "Pédiatrie", None),
]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", list(SORTS))
def test_every_sort_pages_forward_and_backward_through_every_dossier_once(
    world, session, monkeypatch, sort, descending
):
    """Keyset pages of 3, walked from the first to the last and back from the last, give
    the order of one query over the whole campaign: empty values last, ties by id."""
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 3)
    campaign = world.campaign()
    hospitals = [world.organisation(name=n) for n in ("CH Zola", "CH Ader", "CH Ader")]
    for index, (candidate, partner, speciality, priority) in enumerate(SORTED):
        dossier = world.dossier(campaign, hospitals[index % 3], "en_construction")
        with transaction(session):
            dossier.candidate_name, dossier.partner_name = candidate, partner
            dossier.speciality, dossier.priority = speciality, priority
            dossier.state = ("en_construction", "en_instruction")[index % 2]
            dossier.updated_at = dt.datetime(2026, 3, 1 + index % 3, tzinfo=dt.UTC)
    column = SORTS[sort]
    order = column.desc() if descending else column.asc()
    expected = list(
        session.scalars(
            select(Dossier.id)
            .join(Organisation, Organisation.id == Dossier.organisation_id)
            .where(Dossier.campaign_id == campaign.id)
            .order_by(order.nulls_last(), Dossier.id.desc() if descending else Dossier.id)
        )
    )
    filters = Filters(sort=sort, descending=descending)
    walked, page = [], dossier_page(session, campaign.id, filters)
    while True:
        walked += [d.id for d, _ in page.rows]
        if not page.has_next:
            break
        page = dossier_page(session, campaign.id, replace(filters, after=page.last_id))
    assert walked == expected
    backwards, page = [], dossier_page(session, campaign.id, replace(filters, last=True))
    while True:
        backwards = [d.id for d, _ in page.rows] + backwards
        if not page.has_previous:
            break
        page = dossier_page(session, campaign.id, replace(filters, before=page.first_id))
    assert backwards == expected


def test_the_search_ignores_case_and_accents_and_finds_a_part_of_any_column(world, session):
    campaign = world.campaign()
    hospital = world.organisation(name="Hôpital Saint-Éloi")
    dossier = world.dossier(campaign, hospital, "en_construction")
    with transaction(session):
        dossier.candidate_name, dossier.partner_name = "Œdipe Noël", "Clinique des Pins"
        dossier.speciality = "Pédiatrie"

    def found(text: str) -> bool:
        return bool(dossier_page(session, campaign.id, Filters(search=text)).rows)

    for text in ("hopital saint-eloi", "OEDIPE", "noel", "pediat", "des pins", str(dossier.number)):
        assert found(text), text
    assert not found("cardio")
    with transaction(session):
        dossier.candidate_name = "Durand Jeanne"
    assert found("jeanne") and not found("noel")


def test_a_dossier_just_deposited_is_found_by_a_part_of_its_number(world, session):
    # The deposit writes its number through the machine's Core UPDATE, not the ORM's unit of
    # work: the search text must follow all the same.
    dossier, _ = world.deposited()
    session.expire_all()
    stored = session.get(Dossier, dossier.id)
    assert stored.number is not None
    assert str(stored.number) in (stored.search_text or "").split()
    rows = dossier_page(session, dossier.campaign_id, Filters(search=str(stored.number))).rows
    assert [found.id for found, _ in rows] == [dossier.id]


def organisation_order(session, campaign_id: int, **filters) -> list[str]:
    """The organisations' names of the dossiers, walked page after page in the sort by
    organisation (pages of PAGE_SIZE)."""
    filters = Filters(sort="organisation", **filters)
    names, page = [], dossier_page(session, campaign_id, filters)
    while True:
        names += [name for _, name in page.rows]
        if not page.has_next:
            return names
        page = dossier_page(session, campaign_id, replace(filters, after=page.last_id))


def joined_order(session, campaign_id: int) -> list[str]:
    """The same names sorted as the organisations table has them, in the database's own
    collation (the order of the dashboard before the names were copied on the dossiers)."""
    return list(
        session.scalars(
            select(Organisation.name)
            .join(Dossier, Dossier.organisation_id == Organisation.id)
            .where(Dossier.campaign_id == campaign_id)
            .order_by(Organisation.name, Dossier.id)
        )
    )


def test_the_sort_by_organisation_reads_the_organisations_names(world, session, monkeypatch):
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 2)
    campaign = world.campaign()
    for name in ("CH Zola", "Béclère", "CH Ader", "CH Ader", "Avicenne"):
        world.dossier(campaign, world.organisation(name=name), "en_construction")
    joined = joined_order(session, campaign.id)
    assert organisation_order(session, campaign.id) == joined
    assert joined[0] == "Avicenne" and joined[-1] == "CH Zola"
    assert organisation_order(session, campaign.id, descending=True) == joined[::-1]


def test_a_renamed_organisation_moves_in_the_sort_and_is_searched_by_its_new_name(world, session):
    campaign = world.campaign()
    ader, zola = world.organisation(name="CH Ader"), world.organisation(name="CH Zola")
    first = world.dossier(campaign, ader, "en_construction")
    world.dossier(campaign, zola, "en_instruction")
    version = first.version
    with transaction(session):
        ader.name = "Hôpital Ziegler"
    session.expire_all()
    assert organisation_order(session, campaign.id) == ["CH Zola", "Hôpital Ziegler"]
    assert joined_order(session, campaign.id) == ["CH Zola", "Hôpital Ziegler"]

    def found(text: str) -> list[int]:
        return [d.id for d, _ in dossier_page(session, campaign.id, Filters(search=text)).rows]

    assert found("ziegler") == [first.id]
    assert found("ch ader") == []
    # The copies follow the name without touching the déposant's version of the dossier.
    assert session.get(Dossier, first.id).version == version


def test_closing_a_candidates_account_moves_its_dossiers_under_the_marker(world, session):
    from workflow.privacy.closure import close_account
    from workflow.privacy.pseudonyms import MARKER

    campaign = world.campaign()
    candidate = world.organisation(type="candidat", name="Aaron Peggy", finess=None)
    hospital = world.organisation(name="CH Zola")
    dossier = world.dossier(campaign, candidate, "en_construction")
    world.dossier(campaign, hospital, "en_construction")
    assert organisation_order(session, campaign.id) == ["Aaron Peggy", "CH Zola"]
    account, admin = world.user("deposant", candidate), world.actor("administrateur")
    with transaction(session):
        close_account(session, account, admin)
    session.expire_all()
    names = organisation_order(session, campaign.id)
    assert sorted(names) == sorted([MARKER, "CH Zola"])
    assert names == joined_order(session, campaign.id)
    assert dossier_page(session, campaign.id, Filters(search="aaron")).rows == []
    assert session.get(Dossier, dossier.id).organisation_name == MARKER
