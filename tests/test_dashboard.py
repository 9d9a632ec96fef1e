"""The instructor's table of a campaign: counts, filters, search, sort and pages."""

from __future__ import annotations

from workflow.instruction.dashboard import (
    PAGE_SIZE,
    Filters,
    counts_by_state,
    dossier_page,
    specialities,
)
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


def test_pages_hold_fifty_dossiers(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    for _ in range(PAGE_SIZE + 3):
        world.dossier(campaign, hospital, "en_construction")
    first = dossier_page(session, campaign.id, Filters(page=1))
    last = dossier_page(session, campaign.id, Filters(page=99))
    assert (first.total, first.pages, len(first.rows)) == (PAGE_SIZE + 3, 2, PAGE_SIZE)
    assert (last.page, len(last.rows)) == (2, 3)
