"""What an administrator changes on a campaign itself, audited like a dossier's changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.loader import CampaignFileError, LoadProblem, load_campaign_text
from workflow.campaigns.store import Loaded, store_campaign
from workflow.journal import outbox
from workflow.journal.audit import record_campaign_audit
from workflow.machine.closing import Closed, close_campaign
from workflow.models import Campaign, Dossier
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.dates import as_utc, deadline_text, end_instant, format_instant
from workflow.plumbing.errors import TransitionRefused


def change_deadline(
    session: Session,
    campaign: Campaign,
    deadline: dt.date | dt.datetime,
    actor: Actor,
    reason: str,
    now: dt.datetime | None = None,
) -> None:
    """Extends or shortens a campaign's deadline, with a reason kept in the audit trail.

    A day means "that day inclus" (until midnight in Paris), a date and time is Paris time.
    A deadline moved into the future reopens a closed campaign for deposits; dossiers
    already moved into instruction stay there. Each organisation with dossiers still
    editable (brouillons, or corrections asked) is told of the change once, in this
    transaction; the scheduler's J-7 and J-1 reminders follow the new deadline.
    """
    now = now or clock.now()
    new_at = end_instant(deadline)
    problems = _refusals(actor, reason)
    if new_at <= as_utc(campaign.opens_at):
        problems.append("La date limite doit suivre l'ouverture de la campagne.")
    if problems:
        raise TransitionRefused("Modifier la date limite", problems)
    whole_day = not isinstance(deadline, dt.datetime)
    before = deadline_text(campaign.deadline_at, campaign.deadline_whole_day)
    after = deadline_text(new_at, whole_day)
    _audit(session, campaign, actor, "modifier_date_limite", now, before, after, reason)
    moved = new_at != as_utc(campaign.deadline_at)
    campaign.deadline_at = new_at
    campaign.deadline_whole_day = whole_day
    if new_at > now:
        campaign.closed_at = None
    session.flush()
    if moved:
        _tell_editable_dossiers(session, campaign, before, after, now)


def _tell_editable_dossiers(
    session: Session, campaign: Campaign, before: str, after: str, now: dt.datetime
) -> None:
    """One « changement_date_limite » mail per organisation whose dossiers the new deadline
    concerns: brouillons, and dossiers sent back for corrections (they go into instruction
    once both their due date and the deadline have passed)."""
    editable = (Dossier.state == "brouillon") | (
        (Dossier.state == "en_construction") & Dossier.corrections_due_at.is_not(None)
    )
    rows = session.execute(
        select(Dossier.organisation_id, Dossier.id)
        .where(Dossier.campaign_id == campaign.id, editable)
        .order_by(Dossier.organisation_id, Dossier.id)
    ).all()
    dossiers_of: dict[int, list[int]] = {}
    for organisation_id, dossier_id in rows:
        dossiers_of.setdefault(organisation_id, []).append(dossier_id)
    for ids in dossiers_of.values():
        context = {"before": before, "after": after, "dossiers": len(ids)}
        outbox.queue_for_dossier(
            session, [_Mail("changement_date_limite", "deposant")], ids[0], now, context
        )


@dataclass(frozen=True)
class _Mail:
    template: str
    to: str


def open_now(
    session: Session, campaign: Campaign, actor: Actor, reason: str, now: dt.datetime | None = None
) -> None:
    """Opens a campaign for deposits at once, before its planned opening date."""
    now = now or clock.now()
    problems = _refusals(actor, reason)
    if as_utc(campaign.opens_at) <= now:
        problems.append("La campagne est déjà ouverte.")
    if problems:
        raise TransitionRefused("Ouvrir la campagne", problems)
    _audit(
        session,
        campaign,
        actor,
        "ouvrir_campagne",
        now,
        format_instant(campaign.opens_at),
        format_instant(now),
        reason,
    )
    campaign.opens_at = now
    session.flush()


def close_now(
    session: Session, campaign: Campaign, actor: Actor, reason: str, now: dt.datetime | None = None
) -> Closed:
    """Closes a campaign at once, as its deadline would: the deadline becomes now and the
    deposited dossiers go into instruction if the campaign says so."""
    now = now or clock.now()
    problems = _refusals(actor, reason)
    if campaign.closed_at is not None or as_utc(campaign.deadline_at) <= now:
        problems.append("La campagne est déjà close.")
    if problems:
        raise TransitionRefused("Clore la campagne", problems)
    before = deadline_text(campaign.deadline_at, campaign.deadline_whole_day)
    _audit(session, campaign, actor, "clore_campagne", now, before, format_instant(now), reason)
    campaign.deadline_at = now
    campaign.deadline_whole_day = False
    session.flush()
    return close_campaign(session, campaign.id, now, actor=actor)


def load_campaign_upload(
    session: Session,
    data: bytes,
    filename: str,
    actor: Actor,
    now: dt.datetime | None = None,
    campaigns_dir: str | Path | None = None,
) -> Loaded:
    """Loads or updates a campaign from a YAML file an administrator uploads.

    The file is validated first (CampaignFileError lists every problem with its file, line
    and key, in French); its `model:` documents must be files under `campaigns_dir`/models.
    A changed form becomes a new version, and dossiers started on an older version keep
    theirs. The load is written to the campaign's audit trail.
    """
    now = now or clock.now()
    if actor.role != "administrateur":
        raise TransitionRefused("Charger une campagne", ["Action réservée aux administrateurs."])
    source = filename.replace("\\", "/").rsplit("/", 1)[-1] or "campagne.yaml"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = "le fichier n'est pas un texte UTF-8 (enregistrez-le en UTF-8)"
        raise CampaignFileError([LoadProblem(source, None, "", message)]) from exc
    if not text.strip():
        raise CampaignFileError([LoadProblem(source, None, "", "le fichier est vide")])
    definition = load_campaign_text(text, source, campaigns_dir)
    loaded = store_campaign(session, definition, source)
    change = (
        "créée" if loaded.created else ("nouvelle version" if loaded.new_version else "inchangée")
    )
    payload = {"fichier": source, "version": loaded.version.version, "changement": change}
    record_campaign_audit(session, loaded.campaign.id, actor, "charger_campagne", now, payload)
    return loaded


def _refusals(actor: Actor, reason: str) -> list[str]:
    problems = []
    if actor.role != "administrateur":
        problems.append("Action réservée aux administrateurs de l'ARS.")
    if not reason.strip():
        problems.append("Le motif est obligatoire.")
    return problems


def _audit(
    session: Session,
    campaign: Campaign,
    actor: Actor,
    event: str,
    now: dt.datetime,
    before: str,
    after: str,
    reason: str,
) -> None:
    payload = {"avant": before, "apres": after, "motif": reason.strip()}
    record_campaign_audit(session, campaign.id, actor, event, now, payload)
