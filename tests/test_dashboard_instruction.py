"""What the instructor's dashboard adds to its table: brouillons left out, even asked for,
completeness of a whole page at once, counts of several campaigns, decisions to publish."""

from __future__ import annotations

from workflow.instruction.dashboard import (
    Filters,
    completeness_of,
    counts_by_campaign,
    counts_by_state,
    dossier_page,
    unpublished_decisions,
)
from workflow.machine.operations import fire
from workflow.plumbing.db import transaction


def test_brouillons_are_left_out_of_the_instructors_table_and_counts(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    draft = world.dossier(campaign, hospital, "brouillon")
    deposited = world.dossier(campaign, hospital, "en_construction")

    def ids(**filters):
        page = dossier_page(session, campaign.id, Filters(**filters))
        return [d.id for d, _ in page.rows]

    assert ids() == [deposited.id]
    assert ids(state="brouillon") == []
    assert ids(search=draft.candidate_name) == [deposited.id]  # the same name, deposited
    assert counts_by_state(session, campaign.id) == {"en_construction": 1}
    assert counts_by_campaign(session, [campaign.id]) == {campaign.id: {"en_construction": 1}}


def test_completeness_of_a_page(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    complete = world.dossier(campaign, hospital, "en_construction")
    empty = world.dossier(campaign, hospital, "brouillon", complete=False)
    reports = completeness_of(session, [complete, empty])
    assert reports[complete.id].complete
    assert not reports[empty.id].complete
    assert completeness_of(session, []) == {}


def test_counts_of_several_campaigns_at_once(world, session):
    first, second, third = (world.campaign(slug=s) for s in ("a", "b", "c"))
    hospital = world.organisation()
    world.dossier(first, hospital, "en_construction")
    world.dossier(first, hospital, "en_construction")
    world.dossier(second, hospital, "accepte")
    assert counts_by_campaign(session, [first.id, second.id, third.id]) == {
        first.id: {"en_construction": 2},
        second.id: {"accepte": 1},
        third.id: {},
    }


def test_the_decisions_waiting_for_publication_are_counted(world, session):
    campaign = world.campaign(publication="grouped")
    hospital = world.organisation()
    instructeur = world.actor("instructeur")
    dossiers = [world.dossier(campaign, hospital, "en_instruction") for _ in range(2)]
    world.dossier(campaign, hospital, "refuse", published=True)
    assert unpublished_decisions(session, campaign.id) == 0
    for dossier in dossiers:
        with transaction(session):
            fire(session, dossier, "accepter", instructeur, {"motivation": "Jury favorable."})
    assert unpublished_decisions(session, campaign.id) == 2
