"""Guards with a controllable clock: deadlines to the second in Paris time, windows, start
dates, motivations, publication."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.machine.operations import fire
from workflow.models import OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import TransitionRefused


def deposit_at(world, session, instant: dt.datetime, **campaign):
    campaign = world.campaign(**campaign)
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital)
    with time_machine.travel(instant, tick=False), transaction(session):
        fire(session, dossier, "deposer", deposant)
    return dossier


def refused_reasons(world, session, instant, **campaign) -> list[str]:
    with pytest.raises(TransitionRefused) as refused:
        deposit_at(world, session, instant, **campaign)
    return refused.value.reasons


def test_a_deposant_can_deposit_at_23_59_59_on_the_deadline_day(world, session):
    dossier = deposit_at(world, session, at_paris(2026, 3, 20, 23, 59, 59))
    assert dossier.state == "en_construction"


def test_a_deposant_cannot_deposit_at_midnight_after_the_deadline_day(world, session):
    reasons = refused_reasons(world, session, at_paris(2026, 3, 21, 0, 0, 0))
    assert reasons == [
        "La date limite de dépôt est passée : les dossiers étaient acceptés "
        "jusqu'au 20 mars 2026 inclus."
    ]


@pytest.mark.parametrize(
    ("deadline", "last_second_utc"),
    [
        # Spring forward: on 29 March 2026 Paris is at UTC+2 by the evening.
        (dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 21, 59, 59, tzinfo=dt.UTC)),
        # Fall back: on 25 October 2026 Paris is at UTC+1 by the evening.
        (dt.date(2026, 10, 25), dt.datetime(2026, 10, 25, 22, 59, 59, tzinfo=dt.UTC)),
    ],
)
def test_the_deadline_day_ends_at_paris_midnight_across_daylight_saving(
    world, session, deadline, last_second_utc
):
    opens = dict(opens=dt.date(2026, 1, 5), deadline=deadline)
    assert deposit_at(world, session, last_second_utc, **opens).state == "en_construction"
    one_second_later = last_second_utc + dt.timedelta(seconds=1)
    reasons = refused_reasons(world, session, one_second_later, slug="test-asp-2", **opens)
    assert "inclus" in reasons[0]


def test_a_deadline_with_a_time_ends_at_that_time():
    from workflow.plumbing.dates import end_instant

    assert end_instant(dt.datetime(2025, 2, 14, 12, 0)) == dt.datetime(
        2025, 2, 14, 11, 0, tzinfo=dt.UTC
    )


def test_a_deadline_given_with_an_hour_refuses_from_that_hour(world, session):
    campaign = dict(opens=dt.date(2025, 1, 6), deadline=dt.datetime(2025, 2, 14, 12, 0))
    before = at_paris(2025, 2, 14, 11, 59, 59)
    assert deposit_at(world, session, before, **campaign).state == "en_construction"
    reasons = refused_reasons(world, session, at_paris(2025, 2, 14, 12), slug="x2", **campaign)
    assert reasons == [
        "La date limite de dépôt est passée : les dossiers étaient acceptés "
        "jusqu'au 14 février 2025 à 12h00."
    ]


def test_a_campaign_not_yet_open_refuses_deposits(world, session):
    reasons = refused_reasons(world, session, at_paris(2026, 1, 4, 23, 0))
    assert reasons == ["La campagne n'ouvre que le 5 janvier 2026 à 00h00."]


def test_a_closed_campaign_refuses_deposits_even_before_its_deadline(world, session):
    campaign = world.campaign()
    with transaction(session):
        campaign.closed_at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital)
    deposant = world.actor("deposant", hospital)
    with (
        time_machine.travel(at_paris(2026, 3, 10), tick=False),
        pytest.raises(TransitionRefused, match="date limite de dépôt est passée"),
        transaction(session),
    ):
        fire(session, dossier, "deposer", deposant)


@pytest.mark.parametrize("event", ["accepter", "refuser", "classer_sans_suite"])
@pytest.mark.parametrize("motivation", [None, "", "   "])
def test_a_decision_without_motivation_is_refused(world, session, event, motivation):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    instructeur = world.actor("instructeur")
    with pytest.raises(TransitionRefused) as refused, transaction(session):
        fire(session, dossier, event, instructeur, {"motivation": motivation})
    assert refused.value.reasons == ["La motivation de la décision est obligatoire."]


def test_corrections_need_a_message_and_a_due_date_not_past(world, session):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    instructeur = world.actor("instructeur")
    with time_machine.travel(at_paris(2026, 6, 15), tick=False):
        with pytest.raises(TransitionRefused) as refused, transaction(session):
            fire(session, dossier, "demander_corrections", instructeur, {"message": " "})
        assert refused.value.reasons == [
            "Un message précisant les corrections attendues est obligatoire.",
            "La date limite des corrections est obligatoire.",
        ]
        past = {"message": "Joindre le CV.", "due_date": dt.date(2026, 6, 14)}
        with pytest.raises(TransitionRefused) as refused, transaction(session):
            fire(session, dossier, "demander_corrections", instructeur, past)
        assert refused.value.reasons == [
            "La date limite des corrections (14 juin 2026) est déjà passée."
        ]


def accepted(world, session, published: bool):
    campaign = world.campaign()
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "accepte", published=published)
    return dossier, world.actor("deposant", hospital)


@pytest.mark.parametrize(
    ("day", "allowed"),
    [
        (dt.date(2026, 9, 30), False),
        (dt.date(2026, 10, 1), True),
        (dt.date(2026, 10, 31), True),
        (dt.date(2026, 11, 1), False),
    ],
)
def test_maintien_is_confirmed_inside_the_october_window_only(world, session, day, allowed):
    dossier, deposant = accepted(world, session, published=True)
    instant = at_paris(day.year, day.month, day.day, 12)
    with time_machine.travel(instant, tick=False):
        if allowed:
            with transaction(session):
                fire(session, dossier, "confirmer_maintien", deposant)
            assert dossier.state == "confirme"
            return
        with pytest.raises(TransitionRefused) as refused, transaction(session):
            fire(session, dossier, "confirmer_maintien", deposant)
    assert refused.value.reasons == [
        "La confirmation du maintien du projet de recrutement est ouverte "
        "du 1er octobre 2026 au 31 octobre 2026."
    ]


def test_maintien_cannot_be_confirmed_before_the_results_are_published(world, session):
    dossier, deposant = accepted(world, session, published=False)
    with (
        time_machine.travel(at_paris(2026, 10, 15), tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, dossier, "confirmer_maintien", deposant)
    assert refused.value.reasons == ["La décision n'est pas encore publiée."]


def test_prise_de_poste_is_confirmed_from_the_start_date_with_the_actual_date(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "confirme", published=True)
    deposant = world.actor("deposant", hospital)
    with time_machine.travel(at_paris(2026, 11, 1, 18), tick=False):
        with pytest.raises(TransitionRefused) as refused, transaction(session):
            fire(session, dossier, "confirmer_prise_de_poste", deposant)
        assert refused.value.reasons == [
            "La prise de poste se confirme à partir du 2 novembre 2026.",
            "La date effective de prise de poste est obligatoire.",
        ]
    with time_machine.travel(at_paris(2026, 11, 4), tick=False):
        future = {"start_date": dt.date(2026, 11, 5)}
        with pytest.raises(TransitionRefused) as refused, transaction(session):
            fire(session, dossier, "confirmer_prise_de_poste", deposant, future)
        assert refused.value.reasons == [
            "La date effective de prise de poste ne peut pas être dans le futur."
        ]
        with transaction(session):
            fire(
                session,
                dossier,
                "confirmer_prise_de_poste",
                deposant,
                {"start_date": dt.date(2026, 11, 3)},
            )
    assert dossier.state == "en_poste"
    assert dossier.actual_start_date == dt.date(2026, 11, 3)


def test_a_published_decision_cannot_be_taken_back(world, session):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "accepte", published=True)
    instructeur = world.actor("instructeur")
    with pytest.raises(TransitionRefused) as refused, transaction(session):
        fire(session, dossier, "repasser_en_instruction", instructeur, {"reason": "Erreur"})
    assert refused.value.reasons == [
        "Les résultats ont été publiés le 1er juin 2026 à 02h00 : "
        "la décision ne peut plus être reprise."
    ]


def test_grouped_publication_holds_the_decision_mail(world, session):
    campaign = world.campaign(publication="grouped")
    hospital = world.organisation()
    world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        fire(session, dossier, "accepter", instructeur, {"motivation": "Oui."})
    assert dossier.decision.published_at is None
    assert session.scalars(select(OutboxMail)).all() == []


def test_immediate_publication_mails_both_partner_organisations(world, session):
    campaign = world.campaign(publication="immediate")
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        fire(session, dossier, "refuser", instructeur, {"motivation": "Non."})
    assert dossier.decision.published_at is not None
    recipients = sorted(m.recipient for m in session.scalars(select(OutboxMail)))
    assert recipients == sorted([deposant.label, "dam@chu-la-pyte.fr"])


def test_repasser_en_instruction_withdraws_the_unpublished_decision(world, session):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "refuse", published=False)
    instructeur = world.actor("instructeur")
    with transaction(session):
        fire(
            session,
            dossier,
            "repasser_en_instruction",
            instructeur,
            {"reason": "Relecture du jury."},
        )
    assert dossier.state == "en_instruction"
    assert dossier.decision is None
