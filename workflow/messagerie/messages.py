"""Post a message on a dossier's thread, read the thread, mark it read, and what the
instructors' dashboard asks of it (unread messages per dossier)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from workflow.journal import outbox
from workflow.journal.audit import record_audit
from workflow.journal.outbox import MailTo
from workflow.journal.webhooks import MESSAGE, queue_webhook
from workflow.models import Dossier, Message
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import InvalidInput, TransitionRefused
from workflow.plumbing.storage import FileStore, check_pdf

LABEL = "Envoyer le message"
# Long enough for a detailed answer, short enough to stay a message (a report is a PDF).
MAX_BODY = 10_000
TEMPLATE = "nouveau_message"
# Who is told of a message, by the side that wrote it: the other side.
RECIPIENTS = {
    "organisation": (MailTo(TEMPLATE, "contact_ars"), MailTo(TEMPLATE, "instructeurs")),
    "ars": (MailTo(TEMPLATE, "deposant"),),
}
STAFF_ROLES = ("instructeur", "administrateur")


@dataclass(frozen=True)
class Upload:
    """A file sent with a message, as the request gave it (hostile until `check_pdf`)."""

    filename: str
    data: bytes


def side_of(actor: Actor) -> str:
    """The side an actor writes for: the organisation (déposant) or the ARS (staff)."""
    if actor.role == "deposant":
        return "organisation"
    if actor.role in STAFF_ROLES:
        return "ars"
    raise TransitionRefused(LABEL, ["La messagerie est réservée au déposant et à l'ARS."])


def other_side(side: str) -> str:
    """The side that reads what `side` writes."""
    return "ars" if side == "organisation" else "organisation"


def post_message(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    body: str,
    *,
    upload: Upload | None = None,
    storage: FileStore | None = None,
    now: dt.datetime | None = None,
) -> Message:
    """Adds a message to the dossier's thread inside the caller's transaction, audited
    (« message ») and mailed to the other side through the outbox.

    A déposant writes only on its organisation's dossiers, and only once deposited (a
    brouillon is not the ARS's to read); the caller has checked that a staff member may
    instruct the dossier. An attached file is kept only if it is a real PDF (`check_pdf`),
    stored in `storage` and removed again if the transaction rolls back. Raises InvalidInput
    (empty or too long message, file refused) or TransitionRefused, having changed nothing.
    """
    now = now or clock.now()
    side = side_of(actor)
    if side == "organisation" and not actor.owns(dossier.organisation_id):
        raise TransitionRefused(LABEL, ["Ce dossier n'appartient pas à votre organisation."])
    if dossier.state == "brouillon":
        raise TransitionRefused(
            LABEL, ["Le dossier n'est pas encore déposé : l'ARS ne peut pas encore le lire."]
        )
    text = (body or "").strip()
    errors: dict[str, str] = {}
    if not text:
        errors["body"] = "Écrivez votre message."
    elif len(text) > MAX_BODY:
        errors["body"] = f"Le message dépasse {MAX_BODY} caractères : joignez plutôt un PDF."
    checked = None
    if upload is not None:
        try:
            checked = check_pdf(upload.data, upload.filename)
        except InvalidInput as refused:
            errors["piece_jointe"] = refused.message
    if errors:
        raise InvalidInput("Le message n'est pas envoyé.", errors)
    message = Message(
        dossier_id=dossier.id,
        author_id=actor.user_id,
        author_label=actor.label,
        side=side,
        kind="message",
        body=text,
        created_at=now,
    )
    if upload is not None and checked is not None:
        if storage is None:
            raise ValueError("a message with a file needs the storage")
        message.attachment_storage_name = storage.save_in(session, upload.data)
        message.attachment_filename = _safe_filename(upload.filename)
        message.attachment_size = checked.size
        message.attachment_sha256 = checked.sha256
    session.add(message)
    session.flush()
    # The trail keeps the words and the file's name, as it keeps a correction request's.
    payload: dict[str, object] = {"message_id": message.id, "side": side, "message": text}
    if message.attachment_filename:
        payload["fichier"] = message.attachment_filename
    record_audit(session, dossier, actor, "message", dossier.state, now, payload)
    context = {"side": side, "body": text, "attachment": message.attachment_filename}
    outbox.queue_for_dossier(session, RECIPIENTS[side], dossier.id, now, context)
    # The ARS's own tools hear of it too (the webhooks of the campaign that listen).
    posted = {
        "dossier_id": dossier.id,
        "number": dossier.number,
        "campaign_id": dossier.campaign_id,
        "message_id": message.id,
        "side": side,
        "message": text,
        "fichier": message.attachment_filename,
        "at": now.isoformat(),
    }
    queue_webhook(session, dossier.campaign_id, MESSAGE, posted, now)
    return message


def _safe_filename(name: str) -> str:
    """The name shown and given back on download: its last path part, at most 255
    characters, never empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "piece-jointe.pdf"
    return base[-255:]


def thread(session: Session, dossier_id: int) -> list[Message]:
    """The dossier's messages, oldest first (correction requests included)."""
    return list(
        session.scalars(
            select(Message).where(Message.dossier_id == dossier_id).order_by(Message.id)
        )
    )


def mark_read(session: Session, dossier_id: int, reader: Actor, now: dt.datetime) -> int:
    """Marks read what the other side wrote on the dossier, as `reader` opens the thread;
    returns how many messages were unread. One UPDATE, nothing when all is read: reading
    never changes the dossier (nor its version)."""
    written_by = other_side(side_of(reader))
    result = session.execute(
        update(Message)
        .where(
            Message.dossier_id == dossier_id,
            Message.side == written_by,
            Message.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def unread_count(session: Session, dossier_id: int, reader: Actor) -> int:
    """How many messages of the dossier `reader`'s side has not read yet."""
    written_by = other_side(side_of(reader))
    return (
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.dossier_id == dossier_id,
                Message.side == written_by,
                Message.read_at.is_(None),
            )
        )
        or 0
    )


def unread_by(side: str) -> ColumnElement[bool]:
    """Whether a dossier (the outer query's `Dossier`) has a message that `side` has not
    read yet: a correlated EXISTS over the partial index ix_messages_unread, to put in the
    dashboard's own query (no statement more per page)."""
    return (
        select(Message.id)
        .where(
            Message.dossier_id == Dossier.id,
            Message.side == other_side(side),
            Message.read_at.is_(None),
        )
        .exists()
    )


def attachment_of(session: Session, dossier_id: int, message_id: int) -> Message | None:
    """The message of the dossier with a file, or None (another dossier's, or no file)."""
    message = session.get(Message, message_id)
    if message is None or message.dossier_id != dossier_id:
        return None
    return message if message.attachment_storage_name else None
