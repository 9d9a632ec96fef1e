"""Every change of a dossier goes through here: pages, the CLI and the scheduler call these
functions inside `db.transaction(...)`; none of them assigns `dossier.state` itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, joinedload

from workflow.campaigns.store import definition_of
from workflow.journal import outbox
from workflow.journal.audit import record_audit
from workflow.machine.firing import Firing
from workflow.machine.spec import EventSpec
from workflow.machine.states import guards_hold, workflow
from workflow.models import Dossier
from workflow.people.actors import ROLE_LABELS, Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import ConflictError, TransitionRefused, WorkflowError


def fire(
    session: Session,
    dossier: Dossier,
    event: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Dossier:
    """Fires `event` on `dossier` for `actor`, inside the caller's transaction.

    Checks who may act, then every guard; on success the machine sets the new state, the
    effects run, an audit event is written and the mails are queued, and the change is
    flushed so that a lost race raises ConflictError here. On refusal, raises
    TransitionRefused with every reason, in French, having changed nothing.
    `expected_version` is the version the user saw, when the request comes from a page.
    """
    flow = workflow()
    spec = flow.events.get(event)
    if spec is None:
        raise WorkflowError(f"Action inconnue : {event}.")
    if expected_version is not None and dossier.version != expected_version:
        raise ConflictError()
    _check_can_fire(flow.state_labels, spec, dossier, actor)
    campaign = dossier.campaign
    firing = Firing(
        session=session,
        dossier=dossier,
        campaign=campaign,
        definition=definition_of(session, dossier.campaign_version_id),
        actor=actor,
        payload=dict(payload or {}),
        now=now or clock.now(),
        spec=spec,
    )
    from_state = dossier.state
    # Guards and effects query the database; flushing a half-applied change in between
    # would trip the table's constraints (a deposited dossier without its number yet).
    with session.no_autoflush:
        if not flow.machine.events[event].trigger(firing):
            raise TransitionRefused(spec.label, firing.reasons)
    dossier.updated_at = firing.now
    session.flush()  # the version-checked UPDATE: a lost race stops here
    record_audit(session, dossier, actor, event, from_state, firing.now, firing.payload)
    _queue_mails(session, spec, dossier, firing)
    return dossier


def _check_can_fire(labels: dict[str, str], spec: EventSpec, dossier: Dossier, actor: Actor):
    if actor.role not in spec.who:
        who = " ou ".join(ROLE_LABELS.get(role, role) for role in spec.who)
        raise TransitionRefused(spec.label, [f"Cette action est réservée {who}."])
    if dossier.state not in spec.sources:
        possible = [e.label for e in workflow().events_from(dossier.state) if actor.role in e.who]
        listed = ", ".join(f"« {p} »" for p in possible) or "aucune"
        raise TransitionRefused(
            spec.label,
            [
                f"Le dossier est « {labels[dossier.state]} ». "
                f"Actions possibles dans cet état : {listed}."
            ],
        )


def _queue_mails(session: Session, spec: EventSpec, dossier: Dossier, firing: Firing) -> None:
    # A decision mail of a campaign that groups its results waits for publish_results.
    grouped = dossier.campaign.publication == "grouped"
    mails = [m for m in spec.mails if not (m.on_publication and grouped)]
    context = {k: v for k, v in firing.payload.items() if k in ("message", "reason")}
    outbox.queue_for_dossier(session, mails, dossier.id, firing.now, context)


def load_dossier(session: Session, dossier_id: int) -> Dossier | None:
    """A dossier with its campaign, as `fire` needs them (one query instead of two)."""
    return session.get(Dossier, dossier_id, options=[joinedload(Dossier.campaign)])


def allowed_events(dossier: Dossier, actor: Actor) -> list[EventSpec]:
    """The events this actor may try from the dossier's state (guards not yet checked)."""
    return [e for e in workflow().events_from(dossier.state) if actor.role in e.who]


# --- what the déposant's pages ask before offering an action ---------------------------------

DECIDED_STATES = ("accepte", "refuse", "sans_suite")


def state_for_deposant(dossier: Dossier) -> str:
    """The state the déposant is shown: a decision held back until the results are published
    leaves the dossier "en instruction" in its eyes."""
    decision = dossier.decision
    if dossier.state in DECIDED_STATES and (decision is None or decision.published_at is None):
        return "en_instruction"
    return dossier.state


def refusal_reasons(
    session: Session,
    dossier: Dossier,
    event: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Why `event` would be refused now, in the guards' own words, without firing it or
    changing anything; empty when it would pass. Pages use it to say when a button opens."""
    flow = workflow()
    spec = flow.events.get(event)
    if spec is None:
        return [f"Action inconnue : {event}."]
    try:
        _check_can_fire(flow.state_labels, spec, dossier, actor)
    except TransitionRefused as refused:
        return refused.reasons
    firing = Firing(
        session=session,
        dossier=dossier,
        campaign=dossier.campaign,
        definition=definition_of(session, dossier.campaign_version_id),
        actor=actor,
        payload=dict(payload or {}),
        now=now or clock.now(),
        spec=spec,
    )
    with session.no_autoflush:
        guards_hold(firing)
    return firing.reasons


# --- ordre de priorité -----------------------------------------------------------------------
