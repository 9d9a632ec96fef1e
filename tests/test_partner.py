"""The partner organisation, each post's own dates and outcome, the dossier's ARS contact
(issue #9, parts 3 and 4), on SQLite and PostgreSQL.

The seeds: « Envoi automatique d'un mail d'information sur la publication des résultats aux
deux établissements partenaires » (IdF ASP and MGVH manuals); « prise de fonction 4 mai 2026,
au 2 novembre 2026 ou 2 mai 2027 » (Normandie ASR); the AUMG manual's three « mail type »
(accepté, classé sans suite, refusé) and nothing after them; « Subdivision de Rouen : Sandrine
BEAULIEU … », « Subdivision de Caen : Nathalie CHARLET … » (Normandie ASP)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import START, TEST_SECRET_KEY, WINDOW, at_paris, definition
from workflow.campaigns.loader import load_campaign_file
from workflow.campaigns.per_dossier import confirmation_window_of, start_date_of
from workflow.campaigns.store import current_version, definition_of, store_campaign
from workflow.instruction.avis import avis_token
from workflow.machine.editing import save_volet
from workflow.machine.operations import fire
from workflow.machine.publication import publish_results
from workflow.mail.sender import parse_smtp_url, send_pending
from workflow.mail.templates import render
from workflow.models import (
    AuditEvent,
    Campaign,
    Cosignature,
    Decision,
    Dossier,
    OutboxMail,
    User,
)
from workflow.partners.links import partner_token
from workflow.people.actors import Actor
from workflow.plumbing.db import ROOT, transaction
from workflow.plumbing.errors import TransitionRefused
from workflow.scheduling.jobs import request_confirmations

BASE = "http://localhost"
PARTNER = "dam@chu-la-pyte.fr"  # the partner address of the test dossiers (conftest)
ASR_STATEMENT = (
    "Je certifie que la Direction des Affaires Médicales du Centre Hospitalier Universitaire a "
    "reçu le dossier complet du candidat et s'associe au projet de temps partagé présenté."
)
COSIGNATURE = {
    "who": "Direction des Affaires Médicales du Centre Hospitalier Universitaire",
    "statement": ASR_STATEMENT,
}


def seed_campaign(session: Session, name: str) -> Campaign:
    """One of the real campaign files of campaigns/, stored."""
    with transaction(session):
        loaded = store_campaign(session, load_campaign_file(ROOT / "campaigns" / f"{name}.yaml"))
    return loaded.campaign


def decided_dossier(
    world: Any,
    session: Session,
    campaign: Campaign,
    state: str,
    values: dict[str, Any],
    *,
    published: bool = True,
) -> Dossier:
    """A deposited dossier of `campaign` put straight into `state` with these values (test
    set-up, not a transition), its decision published on 1 June 2026."""
    organisation = world.organisation()
    world.user("deposant", organisation)
    with transaction(session):
        dossier = Dossier(
            campaign_id=campaign.id,
            campaign_version_id=current_version(session, campaign).id,
            organisation_id=organisation.id,
            state=state,
            values=values,
            number=None,
            partner_email=PARTNER,
            partner_name="CHU de Caen",
            candidate_name="Durand Alice",
        )
        world._n += 1
        dossier.number = 80000 + world._n
        dossier.deposited_at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        if state in ("accepte", "confirme", "en_poste"):
            when = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
            dossier.decision = Decision(
                kind="accepte",
                motivation="Projet de temps partagé solide.",
                decided_at=when,
                published_at=when if published else None,
            )
        session.add(dossier)
    return dossier


def deposant_of(session: Session, dossier: Dossier) -> User:
    return session.scalars(
        select(User).where(User.organisation_id == dossier.organisation_id)
    ).one()


def sent_to(smtp_server: Any, sessions: Any, address: str) -> list[Any]:
    send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ne-pas-repondre@ars.example.fr",
        base_url=BASE,
        secret_key=TEST_SECRET_KEY,
    )
    return smtp_server.to(address)


def rendered(session: Session, template: str, dossier: Dossier) -> str:
    """The text of a mail of `template` about the dossier, addressed to its partner, as it
    would leave now."""
    with transaction(session):
        mail = OutboxMail(
            template=template,
            recipient=PARTNER,
            dossier_id=dossier.id,
            campaign_id=dossier.campaign_id,
            context={},
            message_id=f"<essai-{dossier.id}@postes-partages>",
            status="pending",
            attempts=0,
            next_attempt_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
            created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        )
        session.add(mail)
    return render(session, mail, BASE, secret_key=TEST_SECRET_KEY).text


def body(message: Any) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


# --- each post's own start date ---------------------------------------------------------------


def test_a_candidate_starting_in_may_2027_is_not_asked_for_the_prise_de_poste_in_2026(
    world, session, sessions, smtp_server
):
    # « prise de fonction 4 mai 2026, au 2 novembre 2026 ou 2 mai 2027 »: each candidate's
    # Annexe 1 « Date de la prise de fonction » is the dossier's own start date.
    campaign = seed_campaign(session, "normandie-asr-2026")
    may_2027 = decided_dossier(
        world, session, campaign, "confirme", {"candidat": {"date_prise_de_fonction": "2027-05-02"}}
    )
    november = decided_dossier(
        world, session, campaign, "confirme", {"candidat": {"date_prise_de_fonction": "2026-11-02"}}
    )
    # The campaign's earliest date (4 May 2026) is past for both: only their own dates count.
    assert request_confirmations(sessions, at_paris(2026, 11, 15)) == [
        f"prise-de-poste:dossier={november.id}"
    ]
    assert request_confirmations(sessions, at_paris(2027, 5, 1)) == []
    assert request_confirmations(sessions, at_paris(2027, 5, 2)) == [
        f"prise-de-poste:dossier={may_2027.id}"
    ]
    with time_machine.travel(at_paris(2027, 5, 2), tick=False):
        mails = sent_to(smtp_server, sessions, deposant_of(session, may_2027).email)
    assert len(mails) == 1
    assert "peut être confirmée depuis le 2 mai 2027" in body(mails[0])


def test_the_prise_de_poste_of_a_may_2027_start_is_refused_before_2_may_2027(world, session):
    campaign = seed_campaign(session, "normandie-asr-2026")
    dossier = decided_dossier(
        world, session, campaign, "confirme", {"candidat": {"date_prise_de_fonction": "2027-05-02"}}
    )
    deposant = Actor.of(deposant_of(session, dossier))
    payload = {"start_date": dt.date(2026, 11, 16)}
    with (
        time_machine.travel(at_paris(2026, 11, 16), tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, dossier, "confirmer_prise_de_poste", deposant, payload)
    assert "La prise de poste se confirme à partir du 2 mai 2027." in refused.value.reasons
    with time_machine.travel(at_paris(2027, 5, 3), tick=False), transaction(session):
        fire(
            session,
            dossier,
            "confirmer_prise_de_poste",
            deposant,
            {"start_date": dt.date(2027, 5, 3)},
        )
    assert dossier.state == "en_poste"


def test_the_normandie_asp_months_are_given_their_days():
    # « prise de fonction en novembre 2025 ou mai 2026 »: the form's choices are months.
    asp = load_campaign_file(ROOT / "campaigns" / "normandie-asp-2025.yaml")
    assert asp.start_date is not None
    assert asp.start_date.day_for("mai_2026") == dt.date(2026, 5, 4)
    assert asp.start_date.day_for("novembre_2025") == dt.date(2025, 11, 3)


def campaign_with_a_start_field(world: Any) -> Campaign:
    """The IdF shape (« en octobre le maintien … et à partir du 02 novembre la prise de
    poste ») with a second start in May 2027, chosen per dossier."""
    volets = definition().model_dump(mode="json")["volets"]
    volets[1]["fields"].append(
        {
            "key": "prise_de_fonction",
            "label": "Prise de fonction",
            "type": "choice",
            "choices": [
                {"value": "2026-11-02", "label": "Novembre 2026"},
                {"value": "2027-05-03", "label": "Mai 2027"},
            ],
        }
    )
    return world.campaign(
        volets=volets,
        start_dates=[START, dt.date(2027, 5, 3)],
        start_date={"field": "candidat.prise_de_fonction"},
    )


def test_the_maintien_window_and_the_decision_mail_follow_the_dossier_s_start_date(
    world, session, sessions
):
    campaign = campaign_with_a_start_field(world)
    november = decided_dossier(
        world, session, campaign, "accepte", {"candidat": {"prise_de_fonction": "2026-11-02"}}
    )
    may = decided_dossier(
        world, session, campaign, "accepte", {"candidat": {"prise_de_fonction": "2027-05-03"}}
    )
    definition_ = definition_of(session, may.campaign_version_id)
    assert start_date_of(may, definition_) == dt.date(2027, 5, 3)
    assert confirmation_window_of(november, definition_) == WINDOW
    # The October window keeps its place before the start: April for a May start.
    assert confirmation_window_of(may, definition_) == (dt.date(2027, 4, 1), dt.date(2027, 4, 30))
    assert request_confirmations(sessions, at_paris(2026, 10, 5)) == [
        f"maintien:dossier={november.id}"
    ]
    assert request_confirmations(sessions, at_paris(2027, 4, 1)) == [f"maintien:dossier={may.id}"]
    deposant = Actor.of(deposant_of(session, may))
    with (
        time_machine.travel(at_paris(2026, 10, 5), tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, may, "confirmer_maintien", deposant)
    assert refused.value.reasons == [
        "La confirmation du maintien du projet de recrutement est ouverte du 1er avril 2027 au "
        "30 avril 2027."
    ]
    text = rendered(session, "decision_accepte", may)
    assert "du 1er avril 2027 au 30 avril 2027 le maintien du projet de recrutement" in text
    assert "à partir du 3 mai 2027 la prise de poste du candidat retenu" in text


# --- steps after the decision are the campaign's choice --------------------------------------


def test_the_aumg_campaign_ends_at_the_decision(world, session, sessions, client, auth):
    # The AUMG manual ends at its three mail types: no maintien, no prise de poste.
    assert load_campaign_file(ROOT / "campaigns" / "idf-aumg-vague12.yaml").post_decision == ()
    campaign = world.campaign(post_decision=[])
    dossier = decided_dossier(world, session, campaign, "accepte", {})
    # October 2026 is the window of the test campaign (conftest): nothing is asked.
    assert request_confirmations(sessions, at_paris(2026, 10, 5)) == []
    deposant = deposant_of(session, dossier)
    with (
        time_machine.travel(at_paris(2026, 10, 5), tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, dossier, "confirmer_maintien", Actor.of(deposant))
    assert refused.value.reasons == [
        "Cette campagne ne prévoit pas la confirmation du maintien du projet de recrutement : "
        "le dossier s'arrête à la décision de l'ARS."
    ]
    auth.login(deposant)
    with auth.at(at_paris(2026, 10, 5)):
        page = client.get(f"/dossiers/{dossier.id}/decision").text
    assert "Accepté — avis favorable" in page
    assert "Confirmer le maintien" not in page
    assert "Renoncer au poste" in page
    text = rendered(session, "decision_accepte", dossier)
    assert "le dossier est ACCEPTÉ (avis favorable)" in text
    assert "maintien" not in text and "prise de poste" not in text


# --- one mail per outcome; the partner's copy carries its link ------------------------------


def publish(world: Any, session: Session, event: str, **campaign: Any) -> tuple[Dossier, User]:
    """A dossier of the test campaign decided by `event` and published on 20 May 2026."""
    campaign_ = world.campaign(**campaign)
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    dossier = world.dossier(campaign_, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with time_machine.travel(at_paris(2026, 5, 20), tick=False):
        with transaction(session):
            fire(session, dossier, event, instructeur, {"motivation": "Avis du jury régional."})
        with transaction(session):
            publish_results(session, campaign_, instructeur)
    return dossier, deposant


@pytest.mark.parametrize(
    ("event", "outcome", "shown"),
    [
        ("accepter", "ACCEPTÉ (avis favorable)", "Accepté — avis favorable"),
        ("refuser", "REFUSÉ (avis défavorable)", "Refusé — avis défavorable"),
        ("classer_sans_suite", "CLASSÉ SANS SUITE", "Classé sans suite"),
    ],
)
def test_each_outcome_has_its_mail_and_the_partner_reads_the_decision_through_its_link(
    event, outcome, shown, world, session, sessions, smtp_server, client
):
    dossier, deposant = publish(world, session, event)
    with time_machine.travel(at_paris(2026, 5, 20, 16), tick=False):
        [to_partner] = sent_to(smtp_server, sessions, PARTNER)
    [to_deposant] = smtp_server.to(deposant.email)
    for message in (to_partner, to_deposant):
        text = body(message)
        assert f"le dossier est {outcome}." in text
        assert "Motivation de la décision : Avis du jury régional." in text
        assert "Candidat pressenti : Lambourde Peggy" in text
        assert "Structure partenaire : CHU La Pyte" in text
        assert f"Organisation qui dépose : {dossier.organisation.name}" in text
        assert "codes d'accès" not in text
    partner_text = body(to_partner)
    link = re.search(rf"{BASE}(/partenaire/[\w.\-]+)", partner_text)
    assert link, partner_text
    assert "/partenaire/" not in body(to_deposant)
    assert f"{BASE}/dossiers/{dossier.id}" in body(to_deposant)
    with time_machine.travel(at_paris(2026, 5, 21), tick=False):
        page = client.get(link.group(1))
    assert page.status_code == 200
    assert shown in page.text
    assert "Avis du jury régional." in page.text
    # Read-only: no form at all on a campaign that asks no co-signature.
    assert "<form" not in page.text.split("<main", 1)[-1].split("</main>")[0]


def test_before_publication_the_partner_sees_the_dossier_en_instruction(
    world, session, client, app
):
    campaign = world.campaign(publication="grouped")
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        fire(session, dossier, "refuser", instructeur, {"motivation": "Motif encore confidentiel."})
    page = client.get(f"/partenaire/{partner_token(dossier, TEST_SECRET_KEY)}").text
    assert "En instruction" in page
    assert "La décision sera consultable ici" in page
    assert "Motif encore confidentiel." not in page
    assert "Refusé" not in page


def test_a_partner_link_opens_its_own_dossier_and_nothing_else(world, session, client):
    campaign = world.campaign()
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_construction")
    token = partner_token(dossier, TEST_SECRET_KEY)
    assert client.get(f"/partenaire/{token}").status_code == 200
    # Forged, cut, or signed for another purpose (an avis link's token): a 404.
    assert client.get(f"/partenaire/{token[:-3]}").status_code == 404
    other_salt = avis_token(dossier.id, TEST_SECRET_KEY)
    assert client.get(f"/partenaire/{other_salt}").status_code == 404
    # A dossier whose partner address changed no longer opens for the old one.
    with transaction(session):
        dossier.partner_email = "autre-dam@chu.fr"
    refused = client.get(f"/partenaire/{token}")
    assert refused.status_code == 404
    assert "Ce lien ne donne plus accès à ce dossier." in refused.text
    # No piece is served through the link.
    assert client.get(f"/partenaire/{token}/pieces/cv").status_code == 404


def test_a_partner_link_expires_after_180_days(world, session, client):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_construction")
    with time_machine.travel(at_paris(2026, 3, 10), tick=False):
        token = partner_token(dossier, TEST_SECRET_KEY)
    with time_machine.travel(at_paris(2026, 9, 5), tick=False):
        assert client.get(f"/partenaire/{token}").status_code == 200
    with time_machine.travel(at_paris(2026, 9, 7), tick=False):
        expired = client.get(f"/partenaire/{token}")
    assert expired.status_code == 404
    assert "Ce lien a expiré" in expired.text


# --- the co-signature (Normandie ASR: the CHU's Direction des Affaires Médicales) ------------


def test_the_normandie_asr_campaign_asks_the_chu_s_dam_to_co_sign():
    asr = load_campaign_file(ROOT / "campaigns" / "normandie-asr-2026.yaml")
    assert asr.cosignature is not None
    assert asr.cosignature.statement == ASR_STATEMENT


def test_the_partner_co_signs_through_its_link_and_both_sides_and_the_ars_see_it(
    world, session, client, auth
):
    campaign = world.campaign(cosignature=COSIGNATURE)
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    dossier = world.dossier(campaign, hospital, "en_instruction")
    with time_machine.travel(at_paris(2026, 3, 12, 9), tick=False):
        signed_at_nine(world, session, client, auth, dossier, deposant)


def signed_at_nine(world, session, client, auth, dossier, deposant) -> None:  # type: ignore[no-untyped-def]
    path = f"/partenaire/{partner_token(dossier, TEST_SECRET_KEY)}"
    form = client.get(path).text
    assert ASR_STATEMENT in html.unescape(form)
    assert 'name="csrf_token"' in form
    unticked = client.post(path, data={"signer_name": "Marc Leroy", "signer_function": "DAM"})
    assert unticked.status_code == 422
    assert "Cochez « Je certifie » pour co-signer." in unticked.text
    assert session.scalar(select(Cosignature)) is None
    session.rollback()  # the test's own reads start afresh after the page's writes
    done = client.post(
        path,
        data={
            "signer_name": "Marc Leroy",
            "signer_function": "Directeur des Affaires Médicales",
            "certify": "oui",
        },
    )
    assert done.status_code == 302
    page = client.get(path).text
    assert "Co-signé le 12 mars 2026 à 09h00 par Marc Leroy" in page
    again = client.post(path, data={"signer_name": "X", "signer_function": "Y", "certify": "oui"})
    assert again.status_code == 422
    assert "La co-signature a déjà été donnée" in again.text
    session.rollback()
    event = session.scalars(select(AuditEvent).where(AuditEvent.event == "co_signer")).one()
    assert event.actor_label == f"partenaire {PARTNER}"
    assert event.payload["fonction"] == "Directeur des Affaires Médicales"
    auth.login(deposant)
    assert "Co-signé par le partenaire" in client.get(f"/dossiers/{dossier.id}/decision").text
    auth.login(world.user("administrateur"))
    ars = client.get(f"/instruction/dossiers/{dossier.id}").text
    assert "Marc Leroy (Directeur des Affaires Médicales)" in ars
    assert "Co-signé par le partenaire" in ars  # the timeline


def test_the_deposit_invites_the_partner_to_co_sign_without_waiting_for_it(
    world, session, sessions, smtp_server, client
):
    # The form does not make the CHU's certificate a condition of the transmission.
    campaign = world.campaign(cosignature=COSIGNATURE)
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital)
    deposant = world.actor("deposant", hospital)
    with time_machine.travel(at_paris(2026, 3, 10), tick=False):
        with transaction(session):
            fire(session, dossier, "deposer", deposant)
        assert dossier.state == "en_construction"
        [invitation] = sent_to(smtp_server, sessions, PARTNER)
        assert invitation["Subject"].startswith(
            f"Co-signature demandée — dossier n° {dossier.number}"
        )
        link = re.search(rf"{BASE}(/partenaire/[\w.\-]+)", body(invitation))
        assert link
        assert "Co-signer le dossier" in client.get(link.group(1)).text
    # A campaign that asks no co-signature sends the partner nothing at the deposit.
    other = world.dossier(world.campaign(slug="sans-cosignature"), hospital)
    with time_machine.travel(at_paris(2026, 3, 10), tick=False), transaction(session):
        fire(session, other, "deposer", deposant)
    assert not session.scalars(
        select(OutboxMail).where(OutboxMail.dossier_id == other.id, OutboxMail.recipient == PARTNER)
    ).all()


def test_a_campaign_without_co_signature_takes_none(world, session, client):
    dossier = world.dossier(world.campaign(), world.organisation(), "en_instruction")
    path = f"/partenaire/{partner_token(dossier, TEST_SECRET_KEY)}"
    refused = client.post(path, data={"signer_name": "A", "signer_function": "B", "certify": "oui"})
    assert refused.status_code == 422
    assert "Cette campagne ne demande pas la co-signature du partenaire." in refused.text


# --- the dossier's ARS contact ---------------------------------------------------------------


def test_a_caen_dossier_s_ars_mails_go_to_caen_and_the_functional_mailbox(world, session):
    # « Subdivision de Caen : Nathalie CHARLET »; the campaign's « Adresse de transmission du
    # dossier par voie électronique » is its functional mailbox.
    campaign = seed_campaign(session, "normandie-asp-2025")
    candidate = world.organisation()
    deposant = world.actor("deposant", candidate)
    with transaction(session):
        dossier = Dossier(
            campaign_id=campaign.id,
            campaign_version_id=current_version(session, campaign).id,
            organisation_id=candidate.id,
            values={},
        )
        session.add(dossier)
    with time_machine.travel(at_paris(2025, 1, 10), tick=False), transaction(session):
        save_volet(session, dossier, deposant, "candidat", {"subdivision": "caen"})
    assert dossier.ars_contact_email == "nathalie.charlet@ars.sante.fr"
    with transaction(session):  # set-up: decided and published, as after the commission
        dossier.state, dossier.number = "accepte", 70001
        dossier.deposited_at = dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
        when = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        dossier.decision = Decision(
            kind="accepte", motivation="Retenu.", decided_at=when, published_at=when
        )
    with transaction(session):
        fire(session, dossier, "desister", deposant, {"reason": "Autre projet."})
    recipients = session.scalars(
        select(OutboxMail.recipient).where(OutboxMail.template == "desistement")
    ).all()
    assert sorted(recipients) == [
        "ars-normandie-direction-attractivite-numerique@ars.sante.fr",
        "nathalie.charlet@ars.sante.fr",
    ]


def test_the_state_machine_page_draws_each_campaign_s_own_steps(world, client, auth):
    aumg = world.campaign(slug="aumg-essai", post_decision=[])
    auth.login(world.user("administrateur"))
    every = client.get("/admin/machine").text
    assert "Confirmer le maintien du projet de recrutement" in every
    assert "confirme" in every and "en_poste" in every
    own = client.get(f"/admin/machine?campagne={aumg.slug}")
    assert own.status_code == 200
    assert "Confirmer le maintien du projet de recrutement" not in own.text
    assert "Confirmer la prise de poste" not in own.text
    assert "<code>en_poste</code>" not in own.text
    # Renoncer au poste stays: from an accepted dossier only.
    assert "Renoncer au poste" in own.text
    assert client.get("/admin/machine?campagne=inconnue").status_code == 404
