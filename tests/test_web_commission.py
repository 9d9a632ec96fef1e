"""The commission's pages, as an instructeur, an administrateur and an invited member use
them: every refusal is a French message on the page, never a traceback."""

from __future__ import annotations

import hashlib
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.test_commission import COMMISSION, Scene
from workflow.administration.instructors import follow
from workflow.commission.groups import quotas_of
from workflow.commission.links import member_token
from workflow.commission.sessions import invite_member
from workflow.models import ArchivedDocument, AuditEvent, CommissionSession, Score
from workflow.plumbing.db import transaction


@pytest.fixture
def scene(world, session) -> Scene:  # type: ignore[no-untyped-def]
    return Scene(world, session)


def followed(world, session, scene: Scene):  # type: ignore[no-untyped-def]
    """The scene's instructeur as a user who follows the campaign."""
    from workflow.models import User

    user = session.get(User, scene.instructeur.user_id)
    admin = world.actor("administrateur")
    with transaction(session):
        follow(session, user, scene.campaign, admin)
    return user


def test_an_instructeur_creates_a_session_and_a_missing_date_is_said_in_french(
    world, session, scene, client, auth
):
    auth.login(followed(world, session, scene))
    url = f"/instruction/campagnes/{scene.campaign.slug}/commission"
    page = client.post(url, data={"title": "Commission", "held_on": ""}, follow_redirects=True)
    assert "La date de la séance est obligatoire" in page.text
    answer = client.post(url, data={"title": "Commission de juin", "held_on": "2026-06-15"})
    assert answer.status_code == 302
    created = session.scalars(
        select(CommissionSession).where(CommissionSession.title == "Commission de juin")
    ).one()
    page = client.get(answer.location).text
    assert "Commission de juin du 15 juin 2026" in page
    assert "Dermatologie — 2 poste(s) financé(s)" in page
    assert created.held_on.isoformat() == "2026-06-15"


def test_a_rank_that_is_not_a_number_is_refused_on_the_page(world, session, scene, client, auth):
    auth.login(followed(world, session, scene))
    dossier = scene.derm[0]
    url = f"/instruction/commission/{scene.sitting.id}/dossiers/{dossier.id}/avis"
    page = client.post(
        url, data={"opinion": "favorable", "reason": "Bon projet.", "rank": "premier"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Le rang est un nombre entier à partir de 1." in page.text
    page = client.post(
        url, data={"opinion": "favorable", "reason": "", "rank": "1"}, follow_redirects=True
    )
    assert "Le motif de l" in page.text and "est obligatoire" in page.text
    client.post(url, data={"opinion": "favorable", "reason": "Bon projet.", "rank": "1"})
    session.expire_all()
    from workflow.commission.proposals import assessment_of

    assessment = assessment_of(session, scene.sitting, dossier.id)
    assert (assessment.opinion, assessment.rank) == ("favorable", 1)


def test_a_dossier_not_on_the_agenda_is_a_404(world, session, scene, client, auth):
    auth.login(followed(world, session, scene))
    other = world.dossier(scene.campaign, world.organisation(), "accepte")
    url = f"/instruction/commission/{scene.sitting.id}/dossiers/{other.id}/avis"
    assert client.post(url, data={"opinion": "favorable"}).status_code == 404


def test_the_proposals_page_proposes_and_applies(world, session, scene, client, auth):
    auth.login(followed(world, session, scene))
    scene.rank_all()
    base = f"/instruction/commission/{scene.sitting.id}"
    page = client.post(f"{base}/propositions", follow_redirects=True).text
    assert "Décisions proposées" in page
    assert page.count("<strong>Accepté</strong>") == 3
    page = client.post(
        f"{base}/propositions/{scene.derm[2].id}",
        data={"proposal": "refuse", "motivation": ""},
        follow_redirects=True,
    ).text
    assert "La motivation du changement est obligatoire." in page
    page = client.post(f"{base}/appliquer", follow_redirects=True).text
    assert "Décisions appliquées : 3 accepté(s), 2 sur liste complémentaire, 0 refusé(s)" in page
    session.expire_all()
    assert scene.derm[2].state == "liste_complementaire"
    minutes = client.get(f"{base}/proces-verbal").text
    assert "Procès-verbal — Commission régionale" in minutes
    # The same minutes as a PDF, archived with its hash in the audit trail.
    pdf = client.get(f"{base}/proces-verbal.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Commission régionale" in text and "Liste complémentaire" in text
    session.rollback()  # a new read transaction sees the request's commit
    archived = session.scalars(select(ArchivedDocument)).one()
    assert archived.kind == "proces_verbal"
    assert archived.sha256 == hashlib.sha256(pdf.data).hexdigest()
    assert client.get(f"{base}/proces-verbal.pdf").data == pdf.data  # the same document


def test_an_administrateur_sets_the_funded_posts_and_the_change_is_audited(
    world, session, scene, client, auth
):
    auth.login(world.user("administrateur"))
    url = f"/admin/campagnes/{scene.campaign.slug}/postes-finances"
    page = client.get(url).text
    assert 'name="groupe-0" value="2"' in page
    page = client.post(
        url,
        data={"total": "4", "groupe-0": "trois", "groupe-1": "1", "reason": "Crédits."},
        follow_redirects=True,
    ).text
    assert "Chaque nombre de postes est un entier positif ou nul." in page
    page = client.post(
        url, data={"total": "4", "groupe-0": "3", "groupe-1": "1", "reason": ""},
        follow_redirects=True,
    ).text  # fmt: skip
    assert "Le motif est obligatoire." in page
    client.post(
        url, data={"total": "4", "groupe-0": "3", "groupe-1": "1", "reason": "Crédits ARS 2026."}
    )
    quotas = quotas_of(session, scene.campaign)
    assert (quotas.total, quotas.posts("Dermatologie")) == (4, 3)
    (event,) = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "modifier_postes_finances")
    )
    assert event.payload["motif"] == "Crédits ARS 2026."


def invited(app, session, scene: Scene) -> str:  # type: ignore[no-untyped-def]
    with transaction(session):
        member = invite_member(
            session, scene.sitting, "Dr Invitée", "présidente de CME", "invitee@chu.fr",
            scene.instructeur, secret_key=app.config["SECRET_KEY"], base_url="http://localhost",
        )  # fmt: skip
    return member_token(member.id, app.config["SECRET_KEY"])


def test_an_invited_member_scores_through_her_link(app, session, scene, client):
    token = invited(app, session, scene)
    page = client.get(f"/commission/{token}").text
    assert "Bonjour Dr Invitée (présidente de CME)" in page
    assert 'name="note-projet"' in page
    dossier = scene.derm[0]
    answer = client.post(
        f"/commission/{token}/dossiers/{dossier.id}/notes",
        data={"note-projet": "14", "note-candidat": "12,5"},
        follow_redirects=True,
    )
    assert "Vos notes sont enregistrées." in answer.text
    values = {s.criterion: s.value for s in session.scalars(select(Score))}
    assert values == {"projet": 14.0, "candidat": 12.5}
    page = client.post(
        f"/commission/{token}/dossiers/{dossier.id}/notes",
        data={"note-projet": "25", "note-candidat": "12"},
        follow_redirects=True,
    ).text
    assert "va de 0 à 20" in page


def test_where_invited_members_do_not_score_the_link_only_reads(app, world, session, client):
    scene = Scene(world, session, invited_members_score=False)
    token = invited(app, session, scene)
    page = client.get(f"/commission/{token}").text
    assert "Dr Invitée" in page and 'name="note-projet"' not in page
    answer = client.post(
        f"/commission/{token}/dossiers/{scene.derm[0].id}/notes",
        data={"note-projet": "14", "note-candidat": "12"},
    )
    assert answer.status_code == 403
    assert session.scalars(select(Score)).all() == []
    assert COMMISSION["scoring"]  # the grid exists: only the link's rights differ
