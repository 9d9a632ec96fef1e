"""The archive of generated documents: each PDF that is sent or downloaded is stored once
(the storage, local or S3) and its SHA-256 written both in the `documents` table and in
the audit trail, so that the very bytes that were sent can be shown later and checked
against the trail."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.journal.audit import Author
from workflow.models import ArchivedDocument, AuditEvent
from workflow.plumbing.storage import FileStore

AUDIT_EVENT = "archiver_document"
KIND_LABELS = {"lettre_decision": "Lettre de décision", "proces_verbal": "Procès-verbal"}


def archived(session: Session, kind: str, reference: str) -> ArchivedDocument | None:
    """The document already archived for this kind and reference, if any."""
    return session.scalar(
        select(ArchivedDocument).where(
            ArchivedDocument.kind == kind, ArchivedDocument.reference == reference
        )
    )


def archive(
    session: Session,
    storage: FileStore,
    *,
    kind: str,
    reference: str,
    campaign_id: int,
    dossier_id: int | None,
    filename: str,
    data: bytes,
    actor: Author,
    now: dt.datetime,
) -> ArchivedDocument:
    """Stores `data` and records it, in the caller's transaction (the file is removed again
    if it rolls back). When another transaction archived the same kind and reference first,
    its document is returned and these bytes are dropped: a document is archived once."""
    digest = hashlib.sha256(data).hexdigest()
    name = storage.save_in(session, data)
    document = ArchivedDocument(
        kind=kind,
        reference=reference,
        campaign_id=campaign_id,
        dossier_id=dossier_id,
        filename=filename,
        storage_name=name,
        size=len(data),
        sha256=digest,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(document)
            session.flush()
    except IntegrityError:
        # Two requests generated the same document at once (PostgreSQL; SQLite serialises
        # writers): the first one's is the archived one.
        storage.delete(name)
        found = archived(session, kind, reference)
        if found is None:
            raise
        return found
    session.execute(
        insert(AuditEvent),
        {
            "dossier_id": dossier_id,
            "campaign_id": campaign_id,
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "at": now,
            "event": AUDIT_EVENT,
            "from_state": None,
            "to_state": None,
            "payload": {
                "document": kind,
                "filename": filename,
                "sha256": digest,
                "size": len(data),
                "storage_name": name,
            },
        },
    )
    return document
