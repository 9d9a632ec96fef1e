"""The messagerie of a dossier and « Transmettre les corrections », on both databases: a
message is stored, audited and mailed to the other side; a correction request is the ARS's
message of the thread; the déposant transmits its corrections and the dossier is back in
instruction at once; the instructors' dashboard marks and filters what waits for them.

The AUMG manual's « étapes de traitement » are the frame: « 1. Construction — Vous pouvez
modifier votre dossier. 2. Instruction — Vous ne pouvez plus modifier votre dossier »."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.conftest import at_paris, pdf_bytes
from workflow.administration.instructors import follow
from workflow.instruction import dashboard
from workflow.machine.editing import delete_dossier
from workflow.machine.operations import fire
from workflow.messagerie.messages import Upload, mark_read, post_message, thread, unread_count
from workflow.models import AuditEvent, Dossier, Message, OutboxMail
from workflow.people.actors import Actor
from workflow.plumbing.backup import check
from workflow.plumbing.dates import corrections_due_text, end_instant
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused
from workflow.plumbing.storage import Storage

ASKED = at_paris(2026, 3, 30)
DUE = dt.date(2026, 4, 3)
CORRECTIONS = {"message": "Joindre le CV signé du candidat.", "due_date": DUE}


@pytest.fixture
def scene(world, session) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    """A deposited dossier in instruction, its organisation's déposant, an instructeur who
    follows the campaign and one who does not."""
    campaign = world.campaign()
    hospital = world.organisation()
    deposant_user = world.user("deposant", hospital)
    instructor_user = world.user("instructeur")
    admin = world.actor("administrateur")
    with transaction(session):
        follow(session, instructor_user, campaign, admin)
    world.user("instructeur")  # follows nothing: never mailed
    return SimpleNamespace(
        campaign=campaign,
        hospital=hospital,
        dossier=world.dossier(campaign, hospital, "en_instruction"),
        deposant=Actor.of(deposant_user),
        deposant_user=deposant_user,
        instructeur=Actor.of(instructor_user),
        instructor_user=instructor_user,
    )


def outbox(session, template: str) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id)
        )
    )


def test_corrections_are_due_until_the_end_of_the_day_written_one_way():
    # The due date as the manuals write a deadline: « jusqu'au 20 mars 2019 inclus ».
    assert corrections_due_text(end_instant(dt.date(2026, 12, 15))) == (
        "jusqu'au 15 décembre 2026 inclus"
    )
    # Across the change to summer time, the day stays the day chosen.
    assert corrections_due_text(end_instant(dt.date(2026, 3, 28))) == (
        "jusqu'au 28 mars 2026 inclus"
    )
    assert (
        corrections_due_text(end_instant(dt.date(2026, 4, 1))) == "jusqu'au 1er avril 2026 inclus"
    )


def test_a_deposants_message_is_stored_audited_and_mailed_to_the_ars(scene, session, tmp_path):
    storage = Storage(tmp_path)
    with transaction(session):
        message = post_message(
            session,
            scene.dossier,
            scene.deposant,
            "  Le CV signé est joint.  ",
            upload=Upload("../../cv signé.pdf", pdf_bytes(title="CV")),
            storage=storage,
            now=ASKED,
        )
    session.expire_all()
    (stored,) = thread(session, scene.dossier.id)
    assert (stored.id, stored.side, stored.kind, stored.body) == (
        message.id,
        "organisation",
        "message",
        "Le CV signé est joint.",
    )
    assert stored.attachment_filename == "cv signé.pdf"
    assert storage.read(stored.attachment_storage_name).startswith(b"%PDF-")
    audit = session.scalars(select(AuditEvent).where(AuditEvent.event == "message")).one()
    assert audit.dossier_id == scene.dossier.id
    assert audit.payload["message"] == "Le CV signé est joint."
    assert audit.payload["fichier"] == "cv signé.pdf"
    # The ARS side: the campaign's contact and the instructeur who follows it, no one else.
    mailed = outbox(session, "nouveau_message")
    assert sorted(m.recipient for m in mailed) == sorted(
        ["ars-idf-asp@ars.sante.fr", scene.instructor_user.email]
    )
    assert mailed[0].context["side"] == "organisation"
    # Writing a message never changes the dossier, nor its version.
    assert scene.dossier.state == "en_instruction"
    assert scene.dossier.version == 1


def test_an_ars_message_is_mailed_to_the_organisation_and_read_when_opened(scene, session):
    with transaction(session):
        post_message(session, scene.dossier, scene.instructeur, "Merci de préciser la quotité.")
    assert [m.recipient for m in outbox(session, "nouveau_message")] == [scene.deposant_user.email]
    assert unread_count(session, scene.dossier.id, scene.deposant) == 1
    # The ARS's own message is not « unread » for the ARS.
    assert unread_count(session, scene.dossier.id, scene.instructeur) == 0
    with transaction(session):
        assert mark_read(session, scene.dossier.id, scene.deposant, ASKED) == 1
    assert unread_count(session, scene.dossier.id, scene.deposant) == 0
    with transaction(session):
        assert mark_read(session, scene.dossier.id, scene.deposant, ASKED) == 0


def test_a_message_needs_words_and_a_real_pdf(scene, session, tmp_path):
    storage = Storage(tmp_path)
    with pytest.raises(InvalidInput) as refused, transaction(session):
        post_message(
            session,
            scene.dossier,
            scene.deposant,
            "   ",
            upload=Upload("cv.pdf", b"PK\x03\x04 a Word file renamed"),
            storage=storage,
        )
    assert refused.value.errors["body"] == "Écrivez votre message."
    assert "n'est pas un PDF" in refused.value.errors["piece_jointe"]
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert list(storage.names()) == []
    assert outbox(session, "nouveau_message") == []


def test_a_deposant_writes_only_on_its_own_deposited_dossiers(scene, world, session):
    stranger = world.actor("deposant", world.organisation())
    not_yours = "n'appartient pas à votre organisation"
    with pytest.raises(TransitionRefused, match=not_yours), transaction(session):
        post_message(session, scene.dossier, stranger, "Bonjour")
    draft = world.dossier(scene.campaign, scene.hospital, "brouillon")
    with pytest.raises(TransitionRefused, match="pas encore déposé"), transaction(session):
        post_message(session, draft, scene.deposant, "Bonjour")
    assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_correction_request_is_the_ars_message_of_the_thread(scene, session):
    with transaction(session):
        fire(
            session,
            scene.dossier,
            "demander_corrections",
            scene.instructeur,
            CORRECTIONS,
            now=ASKED,
        )
    (request,) = thread(session, scene.dossier.id)
    assert (request.side, request.kind, request.body) == (
        "ars",
        "corrections",
        "Joindre le CV signé du candidat.",
    )
    assert unread_count(session, scene.dossier.id, scene.deposant) == 1
    # Its mail is demande_corrections alone, and it names the due date the one way.
    assert [m.template for m in session.scalars(select(OutboxMail))] == ["demande_corrections"]
    from workflow.mail.templates import render

    mail = render(session, outbox(session, "demande_corrections")[0], "http://localhost", ASKED)
    assert "jusqu'au 3 avril 2026 inclus (heure de Paris)" in mail.text
    assert "00h00" not in mail.text


def test_transmitting_the_corrections_puts_the_dossier_back_in_instruction_at_once(scene, session):
    with transaction(session):
        fire(
            session,
            scene.dossier,
            "demander_corrections",
            scene.instructeur,
            CORRECTIONS,
            now=ASKED,
        )
    assert scene.dossier.state == "en_construction"
    now = at_paris(2026, 4, 1, 10)
    with transaction(session):
        fire(session, scene.dossier, "transmettre_corrections", scene.deposant, now=now)
    session.expire_all()
    back = session.get(Dossier, scene.dossier.id)
    assert back.state == "en_instruction"
    assert (back.corrections_message, back.corrections_due_at) == (None, None)
    assert back.corrections_transmitted_at == now
    audit = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "transmettre_corrections")
    ).one()
    assert (audit.from_state, audit.to_state, audit.actor_id) == (
        "en_construction",
        "en_instruction",
        scene.deposant.user_id,
    )
    assert sorted(m.recipient for m in outbox(session, "corrections_transmises")) == sorted(
        ["ars-idf-asp@ars.sante.fr", scene.instructor_user.email]
    )
    # A new request clears the marker; so does a decision.
    with transaction(session):
        fire(session, back, "demander_corrections", scene.instructeur, CORRECTIONS, now=now)
    assert back.corrections_transmitted_at is None


def test_nothing_to_transmit_without_corrections_asked(scene, world, session):
    deposited = world.dossier(scene.campaign, scene.hospital, "en_construction")
    with pytest.raises(TransitionRefused) as refused, transaction(session):
        fire(session, deposited, "transmettre_corrections", scene.deposant, now=ASKED)
    assert refused.value.reasons == [
        "Aucune correction n'est demandée sur ce dossier : il n'y a rien à transmettre."
    ]
    with pytest.raises(TransitionRefused, match="réservée aux déposants"), transaction(session):
        fire(session, deposited, "transmettre_corrections", scene.instructeur, now=ASKED)


def test_another_organisation_cannot_transmit_the_corrections(scene, world, session):
    with transaction(session):
        fire(
            session,
            scene.dossier,
            "demander_corrections",
            scene.instructeur,
            CORRECTIONS,
            now=ASKED,
        )
    stranger = world.actor("deposant", world.organisation())
    not_yours = "n'appartient pas à votre organisation"
    with pytest.raises(TransitionRefused, match=not_yours), transaction(session):
        fire(session, scene.dossier, "transmettre_corrections", stranger, now=ASKED)
    assert scene.dossier.state == "en_construction"


def test_the_dashboard_marks_and_filters_unread_messages_and_transmitted_corrections(
    scene, world, session
):
    quiet = world.dossier(scene.campaign, scene.hospital, "en_instruction")
    with transaction(session):
        post_message(session, scene.dossier, scene.deposant, "Une question sur la quotité.")
    corrected = world.dossier(scene.campaign, scene.hospital, "en_instruction")
    with transaction(session):
        fire(session, corrected, "demander_corrections", scene.instructeur, CORRECTIONS, now=ASKED)
    with transaction(session):
        fire(session, corrected, "transmettre_corrections", scene.deposant, now=ASKED)
    page = dashboard.dossier_page(session, scene.campaign.id, dashboard.Filters())
    markers = {d.id: page.markers(d) for d, _ in page.rows}
    assert markers == {
        scene.dossier.id: ["Message non lu"],
        quiet.id: [],
        corrected.id: ["Corrections transmises"],
    }
    unread = dashboard.dossier_page(
        session, scene.campaign.id, dashboard.Filters(marker="messages")
    )
    assert ([d.id for d, _ in unread.rows], unread.total) == ([scene.dossier.id], 1)
    transmitted = dashboard.dossier_page(
        session, scene.campaign.id, dashboard.Filters(marker="corrections")
    )
    assert ([d.id for d, _ in transmitted.rows], transmitted.total) == ([corrected.id], 1)
    # Once an instructeur has read the thread, the marker goes.
    with transaction(session):
        mark_read(session, scene.dossier.id, scene.instructeur, ASKED)
    page = dashboard.dossier_page(session, scene.campaign.id, dashboard.Filters(marker="messages"))
    assert (page.rows, page.total) == ([], 0)


def test_a_deleted_dossier_takes_its_messages_and_their_files_with_it(
    scene, world, session, tmp_path
):
    storage = Storage(tmp_path)
    deposited = world.dossier(scene.campaign, scene.hospital, "en_construction")
    during = at_paris(2026, 3, 10)
    with transaction(session):
        post_message(
            session,
            deposited,
            scene.deposant,
            "Une question avant la clôture.",
            upload=Upload("question.pdf", pdf_bytes(title="Question")),
            storage=storage,
            now=during,
        )
    assert len(list(storage.names())) == 1
    with transaction(session):
        delete_dossier(session, deposited, scene.deposant, during, storage=storage)
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert list(storage.names()) == []


def test_a_backup_checks_the_files_of_the_messagerie(scene, session, tmp_path, db_url):
    storage = Storage(tmp_path / "files")
    with transaction(session):
        message = post_message(
            session,
            scene.dossier,
            scene.deposant,
            "Le CV signé est joint.",
            upload=Upload("cv.pdf", pdf_bytes(title="CV")),
            storage=storage,
        )
    name = message.attachment_storage_name
    # (The scene's pieces were never stored: the check reports them whatever the messages.)
    assert name not in check(db_url, storage).missing
    storage.delete(name)
    assert name in check(db_url, storage).missing
