"""Documents attached to mails by reference: an outbox row names them (states.yaml's
`attach:`), and the sender asks here for their bytes when it sends, so the outbox never
holds a file and every recipient of a decision receives the one archived letter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflow.documents.letters import KIND as LETTER
from workflow.documents.letters import letter_document
from workflow.models import Dossier, OutboxMail
from workflow.people.actors import SCHEDULER
from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.storage import FileStore

ATTACHABLE = (LETTER,)


@dataclass(frozen=True)
class Attached:
    filename: str
    data: bytes
    mimetype: str = "application/pdf"


def attachments_of(
    session: Session, storage: FileStore, mail: OutboxMail, now: dt.datetime
) -> list[Attached]:
    """The files of the mail's attachments, archiving a letter the first time it is sent.
    Call inside a write transaction; InvalidInput if a document cannot be produced (the
    sender then retries the mail later and says why)."""
    files = []
    for kind in mail.attachments or ():
        if kind != LETTER:
            raise InvalidInput(f"pièce jointe inconnue : {kind}")
        dossier = session.get(Dossier, mail.dossier_id) if mail.dossier_id else None
        if dossier is None:
            raise InvalidInput("pièce jointe : le dossier n'existe plus")
        document = letter_document(session, storage, dossier, SCHEDULER, now)
        files.append(Attached(document.filename, storage.read(document.storage_name)))
    return files
