"""The administrator's pages with Flask's test client: a campaign loaded from an uploaded
YAML file (its errors with file, line and key), opened, closed and given a new deadline with
a reason; instructeur accounts and the campaigns they follow; the state machine page."""

from __future__ import annotations

import html
import io
import re

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import at_paris, definition
from workflow.models import AuditEvent, Campaign, CampaignInstructor, OutboxMail, User
from workflow.plumbing.db import transaction


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def reread(session) -> None:  # type: ignore[no-untyped-def]
    session.rollback()
    session.expire_all()


@pytest.fixture
def admin(world, auth):
    return auth.login(world.user("administrateur"))


def upload(client, text: str, name: str = "test-asp.yaml"):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/campagnes/charger",
        data={"fichier": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
    )


def campaign_yaml(**overrides) -> str:
    data = definition(**overrides).model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# --- campaigns -------------------------------------------------------------------------------


def test_a_campaign_is_loaded_then_updated_from_its_file(client, admin, session):
    created = upload(client, campaign_yaml())
    assert created.status_code == 302
    page = text_of(client.get(created.location))
    assert "La campagne « Assistants spécialistes partagés (test) » est créée (version 1" in page
    updated = upload(client, campaign_yaml(title="ASP (rectifié)"))
    page = text_of(client.get(updated.location))
    assert "passe à la version 2 du formulaire" in page
    assert "les dossiers déjà commencés gardent la leur" in page
    assert "Campagne chargée" in page and "Fichier : test-asp.yaml" in page
    reread(session)
    assert session.scalar(select(Campaign.current_version)) == 2


def test_the_loaders_errors_are_shown_with_file_line_and_key(client, admin, session):
    text = campaign_yaml().replace("depositor: etablissement_sante", "depositor: hopital")
    text = text.replace("agency:", "agence:")
    response = upload(client, text, "asp.yaml")
    assert response.status_code == 422
    rows = re.findall(
        r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
        response.text,
    )
    lines = text.splitlines()
    depositor = next(i for i, s in enumerate(lines, 1) if s.startswith("depositor:"))
    agence = next(i for i, s in enumerate(lines, 1) if s.startswith("agence:"))
    found = {(name, line, key) for name, line, key, _ in rows}
    assert ("asp.yaml", str(depositor), "depositor") in found
    assert ("asp.yaml", str(agence), "agence") in found
    assert any("clé inconnue" in html.unescape(message) for *_, message in rows)
    assert session.scalars(select(Campaign)).all() == []
    assert "Choisissez le fichier YAML" in text_of(
        client.post("/admin/campagnes/charger", data={}, content_type="multipart/form-data")
    )


def test_a_campaign_is_closed_now_and_its_deadline_extended_with_a_reason(
    world, client, auth, admin, session
):
    campaign = world.campaign()
    hospital = world.organisation()
    world.dossier(campaign, hospital, "en_construction")
    url = f"/admin/campagnes/{campaign.slug}"
    with auth.at(at_paris(2026, 3, 1)):
        assert "Ouverte" in text_of(client.get(url))
        refused = client.post(f"{url}/clore", data={"reason": " "})
        assert refused.status_code == 422
        assert "Le motif est obligatoire." in text_of(refused)
        closed = client.post(f"{url}/clore", data={"reason": "Jury avancé."}, follow_redirects=True)
        page = text_of(closed)
        assert "La campagne est close" in page and "1 dossier(s) passé(s) en instruction" in page
        assert "Campagne close" in page and "Motif : Jury avancé." in page
        extended = client.post(
            f"{url}/date-limite",
            data={"date": "2026-03-27", "time": "", "reason": "Grève des postes."},
            follow_redirects=True,
        )
        page = text_of(extended)
        assert "Nouvelle date limite : dépôt jusqu'au 27 mars 2026 inclus." in page
        at_noon = client.post(
            f"{url}/date-limite",
            data={"date": "2026-03-28", "time": "12:00", "reason": "Midi."},
            follow_redirects=True,
        )
        assert "jusqu'au 28 mars 2026 à 12h00" in text_of(at_noon)
        missing = client.post(f"{url}/date-limite", data={"reason": "x"})
        assert missing.status_code == 422
        assert "La nouvelle date est obligatoire." in text_of(missing)
    reread(session)
    events = session.scalars(
        select(AuditEvent.event).where(AuditEvent.dossier_id.is_(None)).order_by(AuditEvent.id)
    ).all()
    assert events == ["clore_campagne", "modifier_date_limite", "modifier_date_limite"]


def test_a_campaign_not_yet_open_is_opened_now(world, client, auth, admin, session):
    campaign = world.campaign()
    url = f"/admin/campagnes/{campaign.slug}"
    with auth.at(at_paris(2025, 12, 20)):
        assert "Ouvrir maintenant" in client.get(url).text
        done = client.post(f"{url}/ouvrir", data={"reason": "Demande du DG."})
        assert done.status_code == 302
    reread(session)
    assert session.get(Campaign, campaign.id).opens_at == at_paris(2025, 12, 20)


def test_an_unknown_campaign_is_not_found(client, admin):
    assert client.get("/admin/campagnes/inconnue").status_code == 404


# --- instructeurs ----------------------------------------------------------------------------


def test_an_instructeur_account_is_created_with_its_campaigns(world, client, admin, session):
    campaign = world.campaign()
    refused = client.post("/admin/instructeurs", data={"email": "x", "full_name": ""})
    assert refused.status_code == 422
    assert 'id="error-full_name"' in refused.text and 'id="error-email"' in refused.text
    done = client.post(
        "/admin/instructeurs",
        data={
            "email": "claire.martin@ars.sante.fr",
            "full_name": "Claire Martin",
            "campagnes": [str(campaign.id)],
        },
    )
    assert done.status_code == 302
    page = text_of(client.get(done.location))
    assert "Le compte de Claire Martin est créé" in page
    assert "invité, mot de passe pas encore choisi" in page
    reread(session)
    user = session.scalar(select(User).where(User.email == "claire.martin@ars.sante.fr"))
    assert user.role == "instructeur"
    assert session.scalars(select(CampaignInstructor.campaign_id)).all() == [campaign.id]
    mail = session.scalars(select(OutboxMail)).one()
    assert mail.template == "invitation_instructeur"
    listing = text_of(client.get("/admin/instructeurs"))
    assert "Claire Martin claire.martin@ars.sante.fr invité" in listing
    assert campaign.title in listing
    client.post(f"/admin/instructeurs/{user.id}/invitation")
    reread(session)
    assert len(session.scalars(select(OutboxMail)).all()) == 2


def test_the_followed_campaigns_are_ticked_and_saved(world, client, admin, session):
    first, second = world.campaign(slug="a"), world.campaign(slug="b")
    user = world.user("instructeur")
    url = f"/admin/instructeurs/{user.id}"
    response = client.post(url, data={"campagnes": [str(first.id), str(second.id)]})
    assert "2 ajoutée(s), 0 retirée(s)" in text_of(client.get(response.location))
    client.post(url, data={"campagnes": [str(second.id)]})
    page = client.get(url).text
    assert f'value="{second.id}" checked' in page
    assert f'value="{first.id}" checked' not in page


def test_a_deactivated_instructeur_is_signed_out_and_cannot_come_back(
    world, app, client, admin, session
):
    user = world.user("instructeur")
    with transaction(session):
        user.email_confirmed_at = at_paris(2026, 1, 1)
    other = app.test_client()
    from tests.conftest import AuthActions

    signed_in = AuthActions(other, session)
    signed_in.login(user)
    assert other.get("/instruction/").status_code == 200
    done = client.post(f"/admin/instructeurs/{user.id}/activation", data={"active": "0"})
    assert "est désactivé" in text_of(client.get(done.location))
    assert other.get("/instruction/").status_code == 302  # to the sign-in page
    client.post(f"/admin/instructeurs/{user.id}/activation", data={"active": "1"})
    # Reactivation does not revive the ended session: the instructeur signs in again.
    assert other.get("/instruction/").status_code == 302
    signed_in.login(user)
    assert other.get("/instruction/").status_code == 200


def test_only_instructeur_accounts_are_managed_here(world, client, admin):
    other_admin = world.user("administrateur")
    assert client.get(f"/admin/instructeurs/{other_admin.id}").status_code == 404
    assert client.get("/admin/instructeurs/999999").status_code == 404


# --- the state machine -----------------------------------------------------------------------


def test_the_state_machine_page_is_generated_from_states_yaml(client, admin):
    from workflow.machine.states import mermaid

    response = client.get("/admin/machine")
    assert response.status_code == 200
    source = re.search(r'id="source-machine">(.*?)</pre>', response.text, re.S).group(1)
    assert html.unescape(source) == mermaid()  # the source, as text
    page = text_of(response)
    assert "Demander des corrections demander_corrections En instruction En construction" in page
    assert "message_required , due_date_in_future" in page  # the guards, as code
    taken_back = (
        "repasser_en_instruction Accepté, Refusé, Classé sans suite, Liste complémentaire "
        "En instruction"
    )
    assert taken_back in page


def test_the_machine_is_drawn_when_mermaid_is_installed(app, client, admin, tmp_path):
    script = tmp_path / "mermaid.min.js"
    script.write_text("window.mermaid = {};")
    app.config["MERMAID_JS"] = str(script)
    page = client.get("/admin/machine").text
    assert 'src="/admin/machine/mermaid.min.js"' in page
    assert client.get("/admin/machine/mermaid.min.js").data == b"window.mermaid = {};"
    app.config["MERMAID_JS"] = str(tmp_path / "absent.js")
    assert "mermaid.min.js" not in client.get("/admin/machine").text
    assert client.get("/admin/machine/mermaid.min.js").status_code == 404


def test_only_the_machine_page_lets_mermaid_style_inline_and_scripts_stay_files(client, admin):
    machine = client.get("/admin/machine").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in machine
    assert "script-src 'self';" in machine and "unsafe-eval" not in machine
    home = client.get("/admin/").headers["Content-Security-Policy"]
    assert "style-src 'self';" in home and "unsafe-inline" not in home


def test_a_new_instructeur_chooses_its_password_from_the_mail_and_signs_in(
    world, app, client, admin, session
):
    campaign = world.campaign()
    client.post(
        "/admin/instructeurs",
        data={"email": "paul@ars.fr", "full_name": "Paul Durand", "campagnes": [str(campaign.id)]},
    )
    reread(session)
    token = session.scalars(select(OutboxMail)).one().context["token"]
    newcomer = app.test_client()
    password = "Instruction-2026-ARS!"
    chosen = newcomer.post(
        f"/compte/invitation/{token}",
        data={"password": password, "password_confirmation": password},
    )
    assert chosen.status_code == 302
    signed_in = newcomer.post("/connexion", data={"email": "paul@ars.fr", "password": password})
    assert signed_in.status_code == 302
    page = text_of(newcomer.get("/instruction/"))
    assert campaign.title in page
