"""The messages the sender writes parse back, with the standard library's parser, into what
the template rendered: accented subject, both bodies, the attached letter, the Message-ID."""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from tests.conftest import World, pdf_bytes
from workflow.documents.attachments import Attached
from workflow.mail.message import build_message, encoded_subject, envelope_address
from workflow.mail.sender import parse_smtp_url, send_pending
from workflow.mail.templates import RenderedMail, load_for_rendering, render
from workflow.models import OutboxMail
from workflow.plumbing.db import transaction

SENT_AT = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


def rendered_accuse(world, session) -> tuple[OutboxMail, RenderedMail]:
    """The accusé de réception of a deposited dossier, rendered from the real template."""
    world.deposited()
    (mail,) = session.scalars(select(OutboxMail)).all()
    loaded = load_for_rendering(session, [mail])
    rendered = render(session, mail, "https://pp.example.fr", SENT_AT)
    del loaded
    return mail, rendered


def test_a_decision_mail_parses_back_with_its_subject_bodies_letter_and_message_id(world, session):
    mail, rendered = rendered_accuse(world, session)
    letter = pdf_bytes(title="Décision")
    data = build_message(
        rendered,
        mail_from="ARS Île-de-France <ne-pas-repondre@ars.example.fr>",
        recipient=mail.recipient,
        message_id=mail.message_id,
        date=SENT_AT,
        attachments=[Attached("décision-dossier-1.pdf", letter)],
        reply_to="contact-pam@ars.example.fr",
    )
    message = message_from_bytes(data, policy=policy.default)
    assert rendered.subject.startswith("Votre dossier n° 1 a bien été déposé")
    assert message["Subject"] == rendered.subject
    assert message["Message-ID"] == mail.message_id
    assert message["To"] == mail.recipient
    assert message["From"].addresses[0].display_name == "ARS Île-de-France"
    assert message["From"].addresses[0].addr_spec == "ne-pas-repondre@ars.example.fr"
    assert message["Reply-To"] == "contact-pam@ars.example.fr"
    assert message["Date"].datetime == SENT_AT
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content() == rendered.text
    assert message.get_body(("html",)).get_content() == rendered.html
    assert "Candidat pressenti : Lambourde Peggy" in rendered.text
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "décision-dossier-1.pdf"
    assert attachment.get_content() == letter
    assert [part.defects for part in message.walk()] == [[]] * 5
    # SMTP's lines: CRLF only, none longer than 78 characters.
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_a_mail_without_attachment_is_the_text_and_html_alternatives(world, session):
    mail, rendered = rendered_accuse(world, session)
    data = build_message(rendered, mail_from="ars@example.fr", recipient=mail.recipient,
                         message_id=mail.message_id, date=SENT_AT)  # fmt: skip
    message = message_from_bytes(data, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == "ars@example.fr" and message["Reply-To"] is None
    assert list(message.iter_attachments()) == []
    # Retries build the same message: the boundaries come from the Message-ID.
    again = build_message(rendered, mail_from="ars@example.fr", recipient=mail.recipient,
                          message_id=mail.message_id, date=SENT_AT)  # fmt: skip
    assert again == data


def test_a_long_accented_subject_is_folded_in_whole_characters():
    subject = "Rappel : plus que 2 jours pour déposer vos dossiers — Île-de-France, 日本語 " * 3
    folded = encoded_subject(subject.strip())
    assert all(len(line) <= 78 - len("Subject: ") for line in folded.split("\r\n "))
    message = message_from_bytes(f"Subject: {folded}\r\n\r\n".encode(), policy=policy.default)
    assert message["Subject"] == subject.strip()
    assert encoded_subject("Dossier n. 12 accepte") == "Dossier n. 12 accepte"


@pytest.mark.parametrize(
    "field", ["recipient", "message_id", "mail_from"], ids=["to", "message-id", "from"]
)
def test_a_header_with_a_line_break_is_refused(field):
    values = {"mail_from": "ars@example.fr", "recipient": "bam@ch.example.fr",
              "message_id": "<a@postes-partages>"}  # fmt: skip
    values[field] = values[field].replace("@", "@x\r\nBcc: intrus@example.com\r\n@")
    with pytest.raises(ValueError, match="line break"):
        build_message(RenderedMail("Objet", "texte", "<p>html</p>"), date=SENT_AT, **values)


def test_envelope_addresses_drop_the_display_name_and_encode_the_domain():
    assert envelope_address("ARS Normandie <ne-pas-repondre@ars.example.fr>") == (
        "ne-pas-repondre@ars.example.fr"
    )
    assert envelope_address("dam@hôpital.example.fr") == "dam@xn--hpital-ixa.example.fr"
    assert re.fullmatch(r"[\x21-\x7e]+", envelope_address("bam@ch.example.fr"))


def test_an_address_smtp_cannot_carry_waits_with_its_reason_and_stops_no_other_mail(
    sessions, smtp_server
):
    with sessions() as session:
        World(session).deposited()
        (mail,) = session.scalars(select(OutboxMail)).all()
        with transaction(session):
            session.add(
                OutboxMail(template=mail.template, recipient="élodie@ch.example.fr",
                           dossier_id=mail.dossier_id, campaign_id=mail.campaign_id,
                           context={}, message_id="<utf8@postes-partages>", status="pending",
                           attempts=0, next_attempt_at=SENT_AT, created_at=SENT_AT)
            )  # fmt: skip
        kept = mail.recipient
    report = send_pending(sessions, parse_smtp_url(smtp_server.url), mail_from="ars@example.fr",
                          now=SENT_AT + dt.timedelta(days=30))  # fmt: skip
    assert len(report.sent) == 1 and len(report.retried) == 1
    assert [m["To"] for m in smtp_server.messages] == [kept]
    with sessions() as session:
        waiting = session.scalars(select(OutboxMail).where(OutboxMail.status == "pending")).one()
    assert waiting.recipient == "élodie@ch.example.fr"
    assert "SMTPUTF8" in waiting.last_error and waiting.attempts == 1
    with pytest.raises(ValueError, match="SMTPUTF8"):
        envelope_address("élodie@ch.example.fr")
