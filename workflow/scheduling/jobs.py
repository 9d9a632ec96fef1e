"""The scheduler's sweeps. Each one selects what is due and not done yet, does it, and marks
it done in the same transaction: running a sweep twice, late, or from two hosts changes
nothing more than running it once on time."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from workflow.campaigns.per_dossier import confirmation_window_of, start_date_of
from workflow.campaigns.store import definition_of
from workflow.commission.waitlist import promote_from_waiting_lists
from workflow.instruction.dashboard_upkeep import refresh_dashboard_indexes
from workflow.journal import outbox
from workflow.machine.closing import close_campaign, due_campaign_ids
from workflow.models import Avis, Campaign, Decision, Dossier, Notice
from workflow.plumbing import clock
from workflow.plumbing.dates import PARIS, as_utc, paris_date
from workflow.plumbing.db import transaction

log = logging.getLogger(__name__)

BROUILLON_REMINDER_DAYS = (7, 1)
# Assumption: 3 a.m. in Paris is the quietest hour of the service (no deadline falls then:
# they are at midnight), so that SQLite's write lock during the upkeep delays nobody. A day
# whose 3 a.m. was missed (the service down) has its upkeep at the first tick after.
UPKEEP_HOUR = 3
AVIS_REMINDER_EVERY = dt.timedelta(days=7)
MAINTIEN_REMINDER_DAYS_BEFORE_END = 7


@dataclass(frozen=True)
class _Mail:
    template: str
    to: str


@dataclass
class SweepReport:
    closed: list[int] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    # The campaigns whose dossiers the RGPD purge worked on (scheduler.Scheduler.tick).
    purged: list[int] = field(default_factory=list)


def claim_notice(session: Session, key: str, now: dt.datetime) -> bool:
    """Records that the notice `key` is sent; False if it already was (by anyone, ever)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Notice.__table__
    statement = (
        insert(table).values(key=key, sent_at=now).on_conflict_do_nothing().returning(table.c.key)
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT here.
    return session.connection().execute(statement).first() is not None


def close_due_campaigns(sessions: sessionmaker[Session], now: dt.datetime) -> list[int]:
    """Closes every campaign whose deadline has passed, each in its own transaction."""
    closed = []
    with sessions() as session:
        with transaction(session, write=False):
            due = due_campaign_ids(session, now)
        for campaign_id in due:
            with transaction(session):
                result = close_campaign(session, campaign_id, now)
            if result.closed_now:
                log.info(
                    "campaign %s closed, %s dossiers into instruction", campaign_id, result.moved
                )
                closed.append(campaign_id)
    return closed


def last_deposit_day(campaign: Campaign) -> dt.date:
    """The last day (in Paris) on which a dossier can still be deposited."""
    return paris_date(as_utc(campaign.deadline_at) - dt.timedelta(seconds=1))


def deadline_key(campaign: Campaign) -> str:
    """The deadline a reminder announces, as it appears in its notice key: a moved deadline
    is a new one (its tiers are due again), moving back to an old one finds its notices."""
    return f"{as_utc(campaign.deadline_at):%Y%m%dT%H%M}"


def remind_brouillons(sessions: sessionmaker[Session], now: dt.datetime) -> list[str]:
    """J-7 and J-1 reminders to organisations that still have brouillons in an open campaign.

    Reminders key on the deadline they announce. A reminder missed while the service was
    down goes out late while it still makes sense, saying the time really left (the mail
    computes it when sent); a tier whose later tier is already due is recorded as skipped
    and never goes out (after a stop until J-1, only the J-1 one leaves).
    """
    today = paris_date(now)
    sent: list[str] = []
    with sessions() as session, transaction(session):
        open_campaigns = session.scalars(
            select(Campaign).where(
                Campaign.closed_at.is_(None),
                Campaign.opens_at <= now,
                Campaign.deadline_at > now,
            )
        ).all()
        for campaign in open_campaigns:
            left = (last_deposit_day(campaign) - today).days
            due = sorted(days for days in BROUILLON_REMINDER_DAYS if left <= days)
            if not due:
                continue
            days, skipped = due[0], due[1:]
            organisations = session.execute(
                select(Dossier.organisation_id, Dossier.id)
                .where(Dossier.campaign_id == campaign.id, Dossier.state == "brouillon")
                .order_by(Dossier.organisation_id, Dossier.id)
            ).all()
            first_of: dict[int, int] = {}
            for organisation_id, dossier_id in organisations:
                first_of.setdefault(organisation_id, dossier_id)
            about = f"campaign={campaign.id}:deadline={deadline_key(campaign)}"
            for organisation_id, dossier_id in first_of.items():
                for tier in skipped:
                    claim_notice(
                        session, f"rappel-brouillon-j{tier}:{about}:org={organisation_id}", now
                    )
                key = f"rappel-brouillon-j{days}:{about}:org={organisation_id}"
                if not claim_notice(session, key, now):
                    continue
                if _sent_before_keys_named_the_deadline(session, campaign, days, organisation_id):
                    continue
                count = sum(1 for org, _ in organisations if org == organisation_id)
                context = {"days_left": days, "brouillons": count}
                outbox.queue_for_dossier(
                    session, [_Mail("rappel_brouillon", "deposant")], dossier_id, now, context
                )
                sent.append(key)
    return sent


def _sent_before_keys_named_the_deadline(
    session: Session, campaign: Campaign, days: int, organisation_id: int
) -> bool:
    """Whether this tier already left under the key used before reminders named their
    deadline ("rappel-brouillon-j7:campaign=3:org=5"), for this deadline: sent no earlier
    than the tier's first day. Spares a second J-7 to campaigns in their last week when
    this version is deployed."""
    legacy = session.get(
        Notice, f"rappel-brouillon-j{days}:campaign={campaign.id}:org={organisation_id}"
    )
    if legacy is None:
        return False
    first_day = last_deposit_day(campaign) - dt.timedelta(days=days)
    return paris_date(legacy.sent_at) >= first_day


def remind_avis(sessions: sessionmaker[Session], now: dt.datetime) -> list[str]:
    """A reminder every week to the people whose avis is still awaited: those the ARS asked
    on a deposited dossier, and those the déposant asked before deposit (while their link
    lasts: an expired one is the déposant's to renew)."""
    sent: list[str] = []
    with sessions() as session, transaction(session):
        waiting = session.scalars(
            select(Avis).where(
                Avis.given_at.is_(None),
                Avis.invited_at <= now - AVIS_REMINDER_EVERY,
                (Avis.reminded_at.is_(None)) | (Avis.reminded_at <= now - AVIS_REMINDER_EVERY),
                (Avis.expires_at.is_(None)) | (Avis.expires_at > now),
            )
        ).all()
        for avis in waiting:
            dossier = session.get(Dossier, avis.dossier_id)
            by_deposant = avis.invited_by == "deposant"
            states = ("brouillon", "en_construction") if by_deposant else AVIS_AWAITED_IN
            if dossier is None or dossier.state not in states:
                continue
            avis.reminded_at = now
            outbox.queue(
                session,
                "rappel_avis_deposant" if by_deposant else "rappel_avis",
                [avis.giver_email],
                dossier=dossier,
                context={"avis_key": avis.avis_key, **_avis_context(session, dossier, avis)},
                now=now,
            )
            sent.append(f"rappel-avis:{avis.id}")
    return sent


AVIS_AWAITED_IN = ("en_construction", "en_instruction")


def _avis_context(session: Session, dossier: Dossier, avis: Avis) -> dict[str, object]:
    """What the reminder of an avis asked by the déposant says: which avis, from whom."""
    if avis.invited_by != "deposant":
        return {}
    kind = next(
        (
            a
            for a in definition_of(session, dossier.campaign_version_id).avis
            if a.key == avis.avis_key
        ),
        None,
    )
    return {
        "avis_label": kind.label if kind else avis.avis_key,
        "organisation": dossier.organisation.name,
        "candidat": bool(kind and kind.giver == "candidat"),
        "expires_at": avis.expires_at.isoformat() if avis.expires_at else None,
    }


def request_confirmations(sessions: sessionmaker[Session], now: dt.datetime) -> list[str]:
    """When the confirmation window opens, ask each accepted (and published) dossier's
    organisation to confirm the recruitment; remind it a week before the window closes.
    From the dossier's start date, ask each confirmed dossier for its prise de poste.

    After a stop that reaches into the last week of the window, the request and its
    reminder are due together: only the reminder leaves (it stands alone), never both."""
    today = paris_date(now)
    sent: list[str] = []
    with sessions() as session, transaction(session):
        published = and_(Decision.dossier_id == Dossier.id, Decision.published_at.is_not(None))
        dossiers = session.scalars(
            select(Dossier)
            .join(Decision, published)
            .where(Dossier.state.in_(("accepte", "confirme")))
            .order_by(Dossier.id)
        ).all()
        for dossier in dossiers:
            for notice in _confirmation_notices(dossier, today):
                for skipped in notice.skipping:
                    claim_notice(session, skipped, now)
                if claim_notice(session, notice.key, now):
                    mail = [_Mail(notice.template, "deposant")]
                    outbox.queue_for_dossier(session, mail, dossier.id, now, notice.context)
                    sent.append(notice.key)
    return sent


@dataclass(frozen=True)
class _Notice:
    key: str
    template: str
    context: dict[str, bool] = field(default_factory=dict)
    skipping: tuple[str, ...] = ()


def _confirmation_notices(dossier: Dossier, today: dt.date) -> list[_Notice]:
    # Each dossier's own window and start date: a candidate starting in May 2027 is asked
    # nothing in 2026. A campaign without these steps (AUMG) asks nothing at all.
    session = Session.object_session(dossier)
    assert session is not None
    definition = definition_of(session, dossier.campaign_version_id)
    window = confirmation_window_of(dossier, definition)
    start, end = window if window else (None, None)
    if dossier.state == "accepte" and start and end and start <= today <= end:
        request = f"maintien:dossier={dossier.id}"
        if (end - today).days > MAINTIEN_REMINDER_DAYS_BEFORE_END:
            return [_Notice(request, "demande_confirmation_maintien")]
        reminder = f"maintien-rappel:dossier={dossier.id}"
        if _noticed(dossier, request):
            return [_Notice(reminder, "rappel_confirmation_maintien")]
        # Never asked (the service was down): the reminder is the request, worded so.
        first = _Notice(reminder, "rappel_confirmation_maintien", {"first": True}, (request,))
        return [first]
    begins = start_date_of(dossier, definition)
    steps = definition.post_decision
    if dossier.state == "confirme" and "prise_de_poste" in steps and begins and today >= begins:
        return [_Notice(f"prise-de-poste:dossier={dossier.id}", "demande_prise_de_poste")]
    return []


def _noticed(dossier: Dossier, key: str) -> bool:
    session = Session.object_session(dossier)
    assert session is not None
    return session.get(Notice, key) is not None


def return_corrected_dossiers(sessions: sessionmaker[Session], now: dt.datetime) -> list[str]:
    """Once the due date of the corrections has passed, and the deposit period too, a
    dossier sent back for corrections goes into instruction again, with its mail. (Before
    the deadline it stays en construction: the déposant may still edit it.)"""
    from workflow.machine.operations import fire, load_dossier
    from workflow.people.actors import SCHEDULER
    from workflow.plumbing.errors import WorkflowError

    moved: list[str] = []
    with sessions() as session:
        with transaction(session, write=False):
            due = session.scalars(
                select(Dossier.id)
                .join(Campaign, Campaign.id == Dossier.campaign_id)
                .where(
                    Dossier.state == "en_construction",
                    Dossier.corrections_due_at <= now,
                    Campaign.deadline_at <= now,
                )
            ).all()
        for dossier_id in due:
            try:
                with transaction(session):
                    dossier = load_dossier(session, dossier_id)
                    if dossier is not None and dossier.state == "en_construction":
                        fire(session, dossier, "passer_en_instruction", SCHEDULER, now=now)
                        moved.append(f"corrections:dossier={dossier_id}")
            except WorkflowError:
                log.exception("dossier %s could not go back into instruction", dossier_id)
    return moved


def maintain_dashboard_indexes(sessions: sessionmaker[Session], now: dt.datetime) -> list[str]:
    """Once a day from UPKEEP_HOUR (Paris), the upkeep of the statistics and the search
    index the dashboard reads (instruction.dashboard_upkeep); the day's notice, claimed in
    the same transaction, makes a second run that day do nothing. Returns its key if run."""
    moment = as_utc(now).astimezone(PARIS)
    if moment.hour < UPKEEP_HOUR:
        return []
    key = f"entretien-index:{moment.date().isoformat()}"
    with sessions() as session, transaction(session):
        if not claim_notice(session, key, now):
            return []
        refresh_dashboard_indexes(session)
    log.info("dashboard indexes refreshed (%s)", key)
    return [key]


def run_sweeps(sessions: sessionmaker[Session], now: dt.datetime | None = None) -> SweepReport:
    """Every sweep once, each isolated so that one failing does not stop the others."""
    now = now or clock.now()
    report = SweepReport()
    for name, sweep in (
        ("close", close_due_campaigns),
        ("corrections", return_corrected_dossiers),
        ("brouillons", remind_brouillons),
        ("avis", remind_avis),
        ("confirmations", request_confirmations),
        ("liste_complementaire", promote_from_waiting_lists),
        ("entretien", maintain_dashboard_indexes),
    ):
        try:
            done = sweep(sessions, now)
        except Exception:
            log.exception("sweep %s failed; the next tick retries it", name)
            continue
        if name == "close":
            report.closed += done
        else:
            report.notices += done
    return report
