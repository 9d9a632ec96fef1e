"""The RGPD purge: when a campaign's retention expires (`workflow.campaigns.retention`), its
dossiers' pieces leave storage and their personal fields become « [supprimé] », keeping the
counts, states, numbers and dates; the audit trail keeps every row with names and addresses
replaced by stable pseudonyms.

It is a sweep like the others: it selects what is due and not done (`purged_at IS NULL`),
does it in batches of BATCH dossiers, each in its own transaction that marks its dossiers
purged, so running it twice, late, or after a crash mid-way does nothing twice. A campaign is
marked purged once no dossier of it is left; its export files go then.

What a dossier holds lives in several tables; each has its step in STEPS, run in order on
each batch. A table added later with personal data (messages, answers, opinions…) adds its
step to the list; the test that scans every text column for the test's values after a purge
shows a step missing.

Files are deleted before the batch commits, not after: a crash between the two must not leave
a piece in storage that no row names any more (a rolled-back batch is redone whole by the next
run, and deleting a file already gone does nothing).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from workflow.campaigns.retention import expires_on
from workflow.campaigns.store import definition_of
from workflow.instruction.export_jobs import export_storage
from workflow.journal.audit import record_campaign_audit
from workflow.models import (
    ArchivedDocument,
    Assessment,
    Attachment,
    AuditEvent,
    Avis,
    Campaign,
    CampaignVersion,
    Cosignature,
    Decision,
    Dossier,
    ExportJob,
    Message,
    OutboxMail,
)
from workflow.people.actors import SCHEDULER, Actor
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import FileStore
from workflow.privacy.pseudonyms import MARKER, Pseudonyms

log = logging.getLogger(__name__)

BATCH = 100
MAX_BATCHES_PER_RUN = 20


@dataclass
class Batch:
    """One batch of dossiers of one campaign being purged, and what each step needs."""

    session: Session
    storage: FileStore
    campaign_id: int
    dossier_ids: list[int]
    pseudonyms: Pseudonyms
    now: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)


Step = Callable[[Batch], int]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str) and value.strip():
        yield value


def _masked(value: Any) -> Any:
    """The values with each text replaced by the marker: which fields were filled stays,
    what was typed goes. Numbers and yes/no answers stay (shares of time, counts)."""
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, str) and value:
        return MARKER
    return value


def purge_pieces(batch: Batch) -> int:
    """The PDF pieces: files deleted from storage, rows deleted (their number is in the
    purge's audit row)."""
    s = batch.session
    rows = s.execute(
        select(Attachment.id, Attachment.storage_name).where(
            Attachment.dossier_id.in_(batch.dossier_ids)
        )
    ).all()
    for _, name in rows:
        batch.storage.delete(name)
    if rows:
        s.execute(delete(Attachment).where(Attachment.id.in_([row.id for row in rows])))
    return len(rows)


def purge_avis(batch: Batch) -> int:
    """The avis: the signed PDF deleted, the giver's name, address and comment replaced; the
    verdict and its date stay."""
    s = batch.session
    rows = list(s.scalars(select(Avis).where(Avis.dossier_id.in_(batch.dossier_ids))))
    for avis in rows:
        if avis.storage_name:
            batch.storage.delete(avis.storage_name)
        avis.storage_name = None
        avis.giver_name = MARKER if avis.giver_name else None
        avis.giver_email = MARKER
        avis.comment = MARKER if avis.comment else None
        # The annex's blanks and the « je certifie » signature of an avis collected before
        # deposit (periods, project, the signer's name and function).
        avis.answers = _masked(avis.answers) if avis.answers else avis.answers
        avis.certified_name = MARKER if avis.certified_name else None
        avis.certified_function = MARKER if avis.certified_function else None
    return len(rows)


def purge_messages(batch: Batch) -> int:
    """The messagerie: each message's text replaced and its PDF deleted; its side, kind and
    date stay, its author becomes the trail's pseudonym."""
    s = batch.session
    rows = list(s.scalars(select(Message).where(Message.dossier_id.in_(batch.dossier_ids))))
    for message in rows:
        if message.attachment_storage_name:
            batch.storage.delete(message.attachment_storage_name)
        message.attachment_storage_name = message.attachment_filename = None
        message.attachment_size = message.attachment_sha256 = None
        message.body = MARKER
        message.author_label = batch.pseudonyms.label(message.author_label)
    return len(rows)


def purge_letters(batch: Batch) -> int:
    """The decision letters: their files deleted (they name the candidate); the archive's
    rows stay, with their hash, as the proof that a letter was sent and when."""
    rows = batch.session.scalars(
        select(ArchivedDocument.storage_name).where(
            ArchivedDocument.dossier_id.in_(batch.dossier_ids)
        )
    ).all()
    for name in rows:
        batch.storage.delete(name)
    return len(rows)


def purge_assessments(batch: Batch) -> int:
    """The commission's words on each dossier (its opinion's reason, an adjusted proposal's
    motivation) replaced; the opinion, the rank, the scores and the proposal stay for the
    statistics."""
    s = batch.session
    reasons = s.execute(
        update(Assessment)
        .where(Assessment.dossier_id.in_(batch.dossier_ids), Assessment.reason.is_not(None))
        .values(reason=MARKER)
        .execution_options(synchronize_session=False)
    )
    s.execute(
        update(Assessment)
        .where(Assessment.dossier_id.in_(batch.dossier_ids), Assessment.adjustment.is_not(None))
        .values(adjustment=MARKER)
        .execution_options(synchronize_session=False)
    )
    return reasons.rowcount or 0


def purge_cosignatures(batch: Batch) -> int:
    """The partner's co-signature: the signer's name, function and address replaced; the
    date stays."""
    result = batch.session.execute(
        update(Cosignature)
        .where(Cosignature.dossier_id.in_(batch.dossier_ids))
        .values(partner_email=MARKER, signer_name=MARKER, signer_function=MARKER)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def purge_decisions(batch: Batch) -> int:
    """The decisions: the motivation (it may name the candidate) replaced; kind and dates
    stay."""
    result = batch.session.execute(
        update(Decision)
        .where(Decision.dossier_id.in_(batch.dossier_ids))
        .values(motivation=MARKER)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def purge_outbox(batch: Batch) -> int:
    """The dossiers' mails: recipient and context (names, recap) replaced; one still waiting
    will never leave."""
    s = batch.session
    s.execute(
        update(OutboxMail)
        .where(OutboxMail.dossier_id.in_(batch.dossier_ids), OutboxMail.status == "pending")
        .values(status="failed", last_error="purge RGPD")
        .execution_options(synchronize_session=False)
    )
    result = s.execute(
        update(OutboxMail)
        .where(OutboxMail.dossier_id.in_(batch.dossier_ids))
        .values(recipient=MARKER, context={})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def purge_dossiers(batch: Batch) -> int:
    """The dossiers: every typed text and the summary columns that copy them replaced, the
    candidate's key removed; state, number, dates, priority and speciality stay, and so does
    the partner's name."""
    # Assumption: the partner is an establishment (hospital, health centre), not a person:
    # its name stays for the ARS's statistics of funded posts.
    s = batch.session
    dossiers = list(s.scalars(select(Dossier).where(Dossier.id.in_(batch.dossier_ids))))
    for dossier in dossiers:
        dossier.values = _masked(dossier.values or {})
        dossier.candidate_name = MARKER if dossier.candidate_name else None
        dossier.partner_email = MARKER if dossier.partner_email else None
        dossier.candidate_key = None
        if dossier.corrections_message:
            dossier.corrections_message = MARKER
        dossier.purged_at = batch.now
    s.flush()  # the ORM event rewrites search_text from the replaced columns
    if s.get_bind().dialect.name == "sqlite" and _has_table(s, "dossiers_search"):
        # The trigram index let go of the old texts; merging its segments drops them for good.
        s.execute(text("INSERT INTO dossiers_search(dossiers_search) VALUES ('optimize')"))
    return len(dossiers)


def purge_audit_trail(batch: Batch) -> int:
    """The audit trail: every row kept, names and addresses replaced by stable pseudonyms and
    free texts by the marker (the database lets each row change so once)."""
    s = batch.session
    rows = s.execute(
        select(AuditEvent.id, AuditEvent.actor_label, AuditEvent.payload).where(
            AuditEvent.dossier_id.in_(batch.dossier_ids), AuditEvent.pseudonymised_at.is_(None)
        )
    ).all()
    for row in rows:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.id == row.id)
            .values(
                actor_label=batch.pseudonyms.label(row.actor_label),
                payload=batch.pseudonyms.payload(row.payload or {}),
                pseudonymised_at=batch.now,
            )
            .execution_options(synchronize_session=False)
        )
    return len(rows)


# In order: what names a file or a person before the rows that the trail's pseudonyms are
# drawn from are replaced. Steps for the tables of other features go here.
STEPS: list[tuple[str, Step]] = [
    ("pieces", purge_pieces),
    ("avis", purge_avis),
    ("messages", purge_messages),
    ("lettres", purge_letters),
    ("commission", purge_assessments),
    ("cosignatures", purge_cosignatures),
    ("decisions", purge_decisions),
    ("mails", purge_outbox),
    ("dossiers", purge_dossiers),
    ("historique", purge_audit_trail),
]


def _has_table(session: Session, name: str) -> bool:
    found = session.execute(
        text("SELECT name FROM sqlite_master WHERE name = :name"), {"name": name}
    ).first()
    return found is not None


def _known_values(session: Session, dossier_ids: list[int]) -> set[str]:
    """The personal values of the batch, as the trail may quote them: typed texts, summary
    columns, avis givers, and the déposants who acted (their addresses)."""
    known: set[str] = set()
    for values, candidate, email in session.execute(
        select(Dossier.values, Dossier.candidate_name, Dossier.partner_email).where(
            Dossier.id.in_(dossier_ids)
        )
    ):
        known.update(_strings(values or {}))
        known.update(v for v in (candidate, email) if v)
    for name, email in session.execute(
        select(Avis.giver_name, Avis.giver_email).where(Avis.dossier_id.in_(dossier_ids))
    ):
        known.update(v for v in (name, email) if v)
    return {value for value in known if value != MARKER}


# --- when ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A campaign not purged yet, the day its retention expires, and what a purge would
    remove (the dry-run report)."""

    campaign: Campaign
    expires_on: dt.date
    dossiers: int
    pieces: int
    avis: int

    @property
    def due(self) -> bool:
        return self.expires_on <= paris_date(clock.now())


def expiry(session: Session, campaign: Campaign) -> dt.date:
    """The first day the campaign's personal data is no longer kept."""
    version = session.scalar(
        select(CampaignVersion.id).where(
            CampaignVersion.campaign_id == campaign.id,
            CampaignVersion.version == campaign.current_version,
        )
    )
    definition = definition_of(session, version) if version is not None else None
    start_dates = tuple(dt.date.fromisoformat(day) for day in campaign.start_dates or ())
    deadline_day = paris_date(campaign.deadline_at - dt.timedelta(seconds=1))
    return expires_on(definition.retention if definition else None, start_dates, deadline_day)


def report(session: Session) -> list[Due]:
    """The dry-run report: every campaign not purged yet, soonest expiry first, with the
    dossiers, pieces and avis a purge would remove. Reads only."""
    rows = []
    for campaign in session.scalars(select(Campaign).where(Campaign.purged_at.is_(None))):
        left = select(Dossier.id).where(
            Dossier.campaign_id == campaign.id, Dossier.purged_at.is_(None)
        )
        rows.append(
            Due(
                campaign=campaign,
                expires_on=expiry(session, campaign),
                dossiers=session.scalar(select(func.count()).select_from(left.subquery())) or 0,
                pieces=session.scalar(
                    select(func.count(Attachment.id)).where(Attachment.dossier_id.in_(left))
                )
                or 0,
                avis=session.scalar(select(func.count(Avis.id)).where(Avis.dossier_id.in_(left)))
                or 0,
            )
        )
    return sorted(rows, key=lambda row: (row.expires_on, row.campaign.slug))


def due_campaign_ids(session: Session, now: dt.datetime) -> list[int]:
    """The campaigns whose retention has expired and whose purge is not finished."""
    today = paris_date(now)
    campaigns = session.scalars(select(Campaign).where(Campaign.purged_at.is_(None)))
    return [c.id for c in campaigns if expiry(session, c) <= today]


# --- doing it --------------------------------------------------------------------------------


def purge_batch(
    session: Session,
    storage: FileStore,
    campaign_id: int,
    key: str,
    now: dt.datetime,
    size: int = BATCH,
) -> dict[str, int] | None:
    """Purges the next `size` dossiers of the campaign in the caller's transaction; returns
    what each step did, or None when no dossier is left."""
    ids = list(
        session.scalars(
            select(Dossier.id)
            .where(Dossier.campaign_id == campaign_id, Dossier.purged_at.is_(None))
            .order_by(Dossier.id)
            .limit(size)
        )
    )
    if not ids:
        return None
    batch = Batch(
        session, storage, campaign_id, ids, Pseudonyms(key, _known_values(session, ids)), now
    )
    for name, step in STEPS:
        batch.counts[name] = step(batch)
    return batch.counts


def _finish(
    session: Session,
    storage: FileStore,
    campaign: Campaign,
    totals: dict[str, int],
    now: dt.datetime,
) -> None:
    """The campaign's exports (files holding every dossier) go, the campaign is marked
    purged, and the trail says what went."""
    exports = export_storage(storage)
    jobs = list(
        session.scalars(
            select(ExportJob).where(
                ExportJob.campaign_id == campaign.id, ExportJob.storage_name.is_not(None)
            )
        )
    )
    for job in jobs:
        exports.delete(job.storage_name or "")
        job.status = "expired" if job.status == "done" else job.status
    campaign.purged_at = now
    totals["exports"] = len(jobs)
    totals["dossiers_de_la_campagne"] = (
        session.scalar(select(func.count(Dossier.id)).where(Dossier.campaign_id == campaign.id))
        or 0
    )
    totals.setdefault("dossiers", 0)
    totals["terminee"] = 1
    _audit(session, campaign.id, SCHEDULER, "purge_rgpd", now, totals)
    log.info("campaign %s purged: %s", campaign.id, totals)


def _audit(
    session: Session,
    campaign_id: int,
    actor: Actor,
    event: str,
    now: dt.datetime,
    payload: dict[str, Any],
) -> None:
    record_campaign_audit(session, campaign_id, actor, event, now, payload)


@dataclass
class PurgeReport:
    """What a run of the sweep did: dossiers purged per campaign id, campaigns finished."""

    dossiers: dict[int, int] = field(default_factory=dict)
    finished: list[int] = field(default_factory=list)


def purge_expired(
    sessions: sessionmaker[Session],
    storage: FileStore,
    key: str,
    now: dt.datetime | None = None,
    size: int = BATCH,
    max_batches: int = MAX_BATCHES_PER_RUN,
) -> PurgeReport:
    """The scheduler's sweep: expired campaigns purged, batch by batch, each batch in its own
    transaction, at most `max_batches` per run (a campaign of 100,000 dossiers takes several
    ticks and never holds up the closings and reminders). Safe to run twice or from two
    processes: a batch only takes dossiers not yet purged, and marks them in its
    transaction. Each run that worked on a campaign leaves one audit row with its counts."""
    now = now or clock.now()
    done = PurgeReport()
    budget = max_batches
    with sessions() as session:
        due = due_campaign_ids(session, now)
    for campaign_id in due:
        totals: dict[str, int] = {}
        finished = False
        while budget > 0:
            with sessions() as session, transaction(session):
                counts = purge_batch(session, storage, campaign_id, key, now, size)
                if counts is None:
                    campaign = session.get(Campaign, campaign_id)
                    if campaign is not None and campaign.purged_at is None:
                        _finish(session, storage, campaign, totals, now)
                        done.finished.append(campaign_id)
                    finished = True
                    break
            budget -= 1
            for name, count in counts.items():
                totals[name] = totals.get(name, 0) + count
            done.dossiers[campaign_id] = done.dossiers.get(campaign_id, 0) + counts["dossiers"]
        if not finished and totals:
            with sessions() as session, transaction(session):
                _audit(session, campaign_id, SCHEDULER, "purge_rgpd", now, totals | {"terminee": 0})
            log.info("campaign %s partly purged: %s", campaign_id, totals)
        if budget <= 0:
            break
    return done
