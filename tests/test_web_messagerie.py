"""The messagerie and « Transmettre les corrections » through the pages, with Flask's test
client: the banner and its one reading of the due date, a hostile file refused in French,
messages kept to their own dossier, and the state-machine page listing the new transition."""

from __future__ import annotations

import datetime as dt
import io
import re

from sqlalchemy import func, select

from tests.conftest import at_paris, pdf_bytes
from tests.test_web_deposant import reread, text_of
from workflow.machine.operations import fire
from workflow.messagerie.messages import Upload, post_message
from workflow.models import Dossier, Message
from workflow.plumbing.db import transaction

ASKED = at_paris(2026, 3, 25)
# Assumption: the instructor gives the due date as a day; the seeds write a deadline the same
# way (« jusqu'au 20 mars 2019 inclus », IdF ASP manual), so the pages do too.
DUE = dt.date(2026, 4, 3)
DUE_TEXT = "jusqu'au 3 avril 2026 inclus"
MESSAGE = "Joindre le CV signé du candidat."


def sent_back(world, session, campaign, hospital) -> Dossier:  # type: ignore[no-untyped-def]
    """A deposited dossier the ARS sent back for corrections."""
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        fire(
            session,
            dossier,
            "demander_corrections",
            instructeur,
            {"message": MESSAGE, "due_date": DUE},
            now=ASKED,
        )
    return dossier


def test_the_banner_says_the_due_date_one_way_on_every_tab_and_after_the_deadline(
    at, world, session, client, campaign, hospital, signed_in
):
    dossier = sent_back(world, session, campaign, hospital)
    # After the campaign's deadline (20 March), the corrections keep the dossier editable.
    with at(at_paris(2026, 3, 30)):
        for tab in ("volets/identification", "pieces", "confirmer", "decision", "messagerie"):
            page = text_of(client.get(f"/dossiers/{dossier.id}/{tab}"))
            assert "Corrections demandées par l'ARS" in page, tab
            assert MESSAGE in page, tab
            assert f"Vous pouvez modifier le dossier {DUE_TEXT} (heure de Paris)" in page, tab
            assert "00h00" not in page, tab
        decision = text_of(client.get(f"/dossiers/{dossier.id}/decision"))
        assert "Son instruction commence après la date limite" not in decision
        assert "L'instruction de votre dossier a commencé" in decision


def test_a_dossier_without_corrections_has_no_banner_and_nothing_to_transmit(
    at, world, session, client, campaign, hospital, signed_in
):
    deposited = world.dossier(campaign, hospital, "en_construction")
    with at(at_paris(2026, 3, 10)):
        page = client.get(f"/dossiers/{deposited.id}/decision").text
        assert 'id="corrections-demandees"' not in page
        assert "Transmettre les corrections" not in page
        refused = client.post(f"/dossiers/{deposited.id}/actions/transmettre_corrections")
    assert refused.status_code == 422
    assert "Aucune correction n'est demandée sur ce dossier" in text_of(refused)
    reread(session)
    assert session.get(Dossier, deposited.id).state == "en_construction"


def test_the_deposant_transmits_the_corrections_from_the_banner(
    at, world, session, client, campaign, hospital, signed_in
):
    dossier = sent_back(world, session, campaign, hospital)
    with at(at_paris(2026, 3, 31)):
        done = client.post(
            f"/dossiers/{dossier.id}/actions/transmettre_corrections",
            data={"version": dossier.version},
            follow_redirects=True,
        )
    assert "« Transmettre les corrections » : c'est enregistré" in text_of(done)
    reread(session)
    back = session.get(Dossier, dossier.id)
    assert (back.state, back.corrections_due_at) == ("en_instruction", None)


def test_a_word_file_renamed_pdf_is_refused_in_french_and_nothing_is_sent(
    at, world, session, client, campaign, hospital, signed_in
):
    dossier = sent_back(world, session, campaign, hospital)
    with at(at_paris(2026, 3, 30)):
        refused = client.post(
            f"/dossiers/{dossier.id}/messagerie",
            data={
                "body": "Voici le CV.",
                "piece_jointe": (io.BytesIO(b"PK\x03\x04 docx"), "cv.pdf"),
            },
            content_type="multipart/form-data",
        )
    assert refused.status_code == 422
    page = text_of(refused)
    assert "« cv.pdf » n'est pas un PDF" in page
    assert "Voici le CV." in refused.text  # the words typed stay in the form
    assert (
        session.scalar(
            select(func.count()).select_from(Message).where(Message.side == "organisation")
        )
        == 0
    )


def test_a_message_file_is_served_only_through_its_own_dossier(
    at, app, world, session, client, campaign, hospital, signed_in
):
    from web.shared.files import storage

    mine = sent_back(world, session, campaign, hospital)
    other = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with app.app_context(), transaction(session):
        message = post_message(
            session,
            mine,
            instructeur,
            "Le modèle de lettre d'engagement, à signer.",
            upload=Upload("lettre.pdf", pdf_bytes(title="Lettre")),
            storage=storage(),
        )
    with at(at_paris(2026, 3, 30)):
        served = client.get(f"/dossiers/{mine.id}/messagerie/{message.id}/fichier")
        assert served.status_code == 200
        assert served.data.startswith(b"%PDF-")
        assert (
            client.get(f"/dossiers/{other.id}/messagerie/{message.id}/fichier").status_code == 404
        )
        # A brouillon has no exchange with the ARS.
        draft = world.dossier(campaign, hospital, "brouillon")
        assert client.get(f"/dossiers/{draft.id}/messagerie").status_code == 404


def test_the_state_machine_page_shows_transmettre_les_corrections(world, auth, client):
    auth.login(world.user("administrateur"))
    html = client.get("/admin/machine").text
    (row,) = [r for r in html.split("<tr>") if "<code>transmettre_corrections</code>" in r]
    row = row.split("</tr>")[0]
    cells = [" ".join(text_of_html(c).split()) for c in row.split("<td>")[1:]]
    assert cells == [
        "Transmettre les corrections transmettre_corrections",
        "En construction",
        "En instruction",
        "deposant",
        "owner , corrections_open",
        "clear_corrections , record_corrections_transmitted",
        "corrections_transmises → contact_ars corrections_transmises → instructeurs",
    ]
    # The diagram's source draws it too, sharing the arrow of passer_en_instruction.
    assert "transmettre_corrections [owner &amp; corrections_open]" in html


def text_of_html(fragment: str) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))
