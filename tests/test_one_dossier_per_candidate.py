"""« Un dossier par candidat » (AUMG manual): within a campaign, a second dossier for the
same candidate — same RPPS, or same name and birth date without one — cannot be deposited,
and the refusal names the rule, never the other organisation. Across campaigns and
regions, instructors see « candidat présent dans un autre dossier »."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import time_machine

from tests.conftest import COMPLETE_VALUES, at_paris, definition
from workflow.administration.instructors import follow
from workflow.campaigns.candidates import candidate_key, normalised_name
from workflow.instruction.same_candidate import other_dossiers_of_candidate
from workflow.machine.editing import save_volet
from workflow.machine.operations import fire
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused

DURING = at_paris(2026, 2, 10)
RULE = "Un dossier par candidat."
OTHER_RPPS = "10000000007"


def volets_with_birth_date() -> list[dict[str, Any]]:
    volets = definition().model_dump(mode="json")["volets"]
    volets[1]["fields"].append({"key": "naissance", "label": "Date de naissance", "type": "date"})
    return volets


def identity(one_dossier: str | None = RULE) -> dict[str, Any]:
    return {
        "rpps": "candidat.rpps",
        "name": ["candidat.nom", "candidat.prenom"],
        "birth_date": "candidat.naissance",
        "one_dossier": one_dossier,
    }


def a_campaign(world, one_dossier: str | None = RULE):
    return world.campaign(volets=volets_with_birth_date(), candidate=identity(one_dossier))


def candidate(**changes: Any) -> dict[str, Any]:
    return {**COMPLETE_VALUES["candidat"], "naissance": "1994-04-01", **changes}


def proposed(world, session, campaign, name: str, deposit: bool = True, **changes: Any):
    """A hospital's dossier for a candidate, saved volet by volet, deposited if asked."""
    hospital = world.organisation(name=name)
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, complete=True)
    with time_machine.travel(DURING, tick=False):
        with transaction(session):
            save_volet(session, dossier, deposant, "candidat", candidate(**changes))
        if deposit:
            with transaction(session):
                fire(session, dossier, "deposer", deposant)
    return dossier, deposant


def deposit_refusal(session, dossier, deposant) -> list[str]:
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, dossier, "deposer", deposant)
    return refused.value.reasons


def test_a_second_dossier_with_the_same_rpps_cannot_be_deposited(world, session):
    campaign = a_campaign(world)
    proposed(world, session, campaign, "CH de Gonesse")
    second, deposant = proposed(world, session, campaign, "CH de Pontoise", deposit=False)
    (reason,) = deposit_refusal(session, second, deposant)
    assert reason.startswith("Un dossier par candidat. Un dossier déposé dans cette campagne")
    assert "même n° RPPS" in reason
    assert "Gonesse" not in reason
    assert second.state == "brouillon"


def test_another_candidate_is_deposited(world, session):
    campaign = a_campaign(world)
    proposed(world, session, campaign, "CH de Gonesse")
    second, _ = proposed(world, session, campaign, "CH de Pontoise", rpps=OTHER_RPPS)
    assert second.state == "en_construction"


def test_without_rpps_the_same_name_and_birth_date_is_the_same_candidate(world, session):
    campaign = a_campaign(world)
    no_rpps = {"rpps": None, "date_inscription": "2026-09-01"}
    proposed(world, session, campaign, "CH de Gonesse", nom="Lambourde", **no_rpps)
    second, deposant = proposed(
        world, session, campaign, "CH de Pontoise", deposit=False, nom=" LAMBOURDÉ ", **no_rpps
    )
    (reason,) = deposit_refusal(session, second, deposant)
    assert "mêmes nom et date de naissance" in reason
    third, _ = proposed(world, session, campaign, "CH de Meaux", naissance="1994-04-02", **no_rpps)
    assert third.state == "en_construction"


def test_a_brouillon_or_a_refused_dossier_does_not_hold_the_candidate(world, session):
    campaign = a_campaign(world)
    draft, _ = proposed(world, session, campaign, "CH de Gonesse", deposit=False)
    second, _ = proposed(world, session, campaign, "CH de Pontoise")
    assert (draft.state, second.state) == ("brouillon", "en_construction")
    with transaction(session):
        second.state = "refuse"  # test set-up: the first proposal is over
    third, _ = proposed(world, session, campaign, "CH de Meaux")
    assert third.state == "en_construction"


def test_a_deposited_dossier_cannot_be_changed_into_a_second_one(world, session):
    campaign = a_campaign(world)
    proposed(world, session, campaign, "CH de Gonesse")
    second, deposant = proposed(world, session, campaign, "CH de Pontoise", rpps=OTHER_RPPS)
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(InvalidInput, match="Un dossier par candidat"),
        transaction(session),
    ):
        save_volet(session, second, deposant, "candidat", candidate())
    session.refresh(second)
    assert second.values["candidat"]["rpps"] == OTHER_RPPS


def test_a_campaign_whose_seed_is_silent_takes_a_second_dossier(world, session):
    campaign = a_campaign(world, one_dossier=None)
    proposed(world, session, campaign, "CH de Gonesse")
    second, _ = proposed(world, session, campaign, "CH de Pontoise")
    assert second.state == "en_construction"
    assert second.candidate_key == "rpps:10003456786"


def test_names_are_compared_without_accents_case_hyphens_or_extra_spaces():
    assert normalised_name("  Élodie ", "DUPONT-Martin") == normalised_name(
        "elodie", "dupont martin"
    )
    assert normalised_name("Dupont") != normalised_name("Dupond")


def test_no_key_while_the_dossier_does_not_say_who_the_candidate_is():
    campaign = definition(volets=volets_with_birth_date(), candidate=identity())
    assert candidate_key(campaign, {"candidat": {"nom": "Lambourde"}}) is None
    values = {"candidat": {"nom": "Lambourde", "prenom": "Peggy", "naissance": "1994-04-01"}}
    assert candidate_key(campaign, values) == "nom:lambourde peggy:1994-04-01"


# --- across campaigns: the instructors' marker ----------------------------------------------


def test_instructors_see_the_candidate_in_another_campaign(world, session, auth, client):
    first = a_campaign(world, one_dossier=None)
    other = world.campaign(
        slug="autre-region", volets=volets_with_birth_date(), candidate=identity(None)
    )
    dossier, _ = proposed(world, session, first, "CH de Gonesse")
    assert other_dossiers_of_candidate(session, dossier) == 0
    elsewhere, _ = proposed(world, session, other, "CH de Rouen", deposit=False)
    # A brouillon is its organisation's private draft: it marks nothing.
    assert other_dossiers_of_candidate(session, dossier) == 0
    with transaction(session):
        elsewhere.state, elsewhere.number = "en_construction", 99999
        elsewhere.deposited_at = DURING
    assert other_dossiers_of_candidate(session, dossier) == 1
    user = world.user("instructeur")
    admin = world.actor("administrateur")
    with transaction(session):
        follow(session, user, first, admin)
    auth.login(user)
    page = client.get(f"/instruction/dossiers/{dossier.id}")
    assert page.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.text))
    assert "candidat présent dans un autre dossier" in text
    assert "CH de Rouen" not in text
