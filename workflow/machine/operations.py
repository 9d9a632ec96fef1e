"""Every change of a dossier goes through here: pages, the CLI and the scheduler call these
functions inside `db.transaction(...)`; none of them assigns `dossier.state` itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    Update,
    bindparam,
    func,
    insert,
    inspect,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from workflow.campaigns.store import definition_of
from workflow.journal import outbox
from workflow.journal.audit import AUDIT_COLUMNS, audit_parameters, audit_select, record_audit
from workflow.journal.outbox import OUTBOX_COLUMNS, Mail, MailTo, mail_parameters, mail_rows
from workflow.journal.webhooks import (
    DELIVERY_COLUMNS,
    STATE_CHANGE,
    delivery_select,
    listening_webhooks,
    queue_webhook,
    state_change_payload,
)
from workflow.machine.firing import Firing
from workflow.machine.spec import EventSpec, MailSpec
from workflow.machine.states import guards_hold, workflow
from workflow.models import AuditEvent, Campaign, Dossier, OutboxMail, WebhookDelivery
from workflow.models.dossier import SEARCHED, current_search_text
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
    effects run, and the change is written at once (one UPDATE checked against the version
    the dossier was loaded with) with its audit event and its mails, so that a lost race
    raises ConflictError here; `dossier` then holds the new state and version; the webhooks
    listening to `dossier.etat_change` get their delivery queued. On refusal, raises
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
    mails, context = _mails(spec, dossier, firing)
    journal = audit_parameters(actor, event, from_state, dossier.state, firing.now, firing.payload)
    # What the webhooks are told: the dossier as the write leaves it (one version more).
    change = state_change_payload(dossier, event, from_state, dossier.state, firing.now)
    change["version"] = dossier.version + 1
    journal.update(webhook_payload=change, webhook_at=firing.now)
    # The version-checked UPDATE: a lost race stops here.
    written = write_change(session, dossier, journal, mails, mail_parameters(firing.now, context))
    if not written.journaled:
        record_audit(session, dossier, actor, event, from_state, firing.now, firing.payload)
        outbox.queue_for_dossier(session, mails, dossier.id, firing.now, context)
        if written.listened:
            queue_webhook(session, dossier.campaign_id, STATE_CHANGE, change, firing.now)
    return dossier


@dataclass(frozen=True)
class Written:
    """What `write_change` did besides the dossier's row."""

    # The audit event, the mails and the webhook deliveries are written too (PostgreSQL).
    journaled: bool
    # Whether a webhook of the campaign listens to state changes; True when not asked.
    listened: bool = True


# Dossier columns by attribute name: what `write_change` may fold into its UPDATE.
_COLUMNS = {prop.key: prop.columns[0] for prop in inspect(Dossier).column_attrs}


def write_change(
    session: Session,
    dossier: Dossier,
    journal: dict[str, Any],
    mails: Sequence[Mail] = (),
    mail_values: dict[str, Any] | None = None,
    *,
    state_change: bool = True,
) -> Written:
    """Writes the dossier's changed columns (a new state and what the effects set, or a
    saved volet) in one Core UPDATE checked against the version the dossier was loaded with
    (no row: ConflictError, another writer won), then marks those values as the dossier's
    committed ones, as a flush would have. On PostgreSQL the same statement writes the audit
    event of `journal` (`audit_parameters`) and queues the mails (one round trip instead of
    four) and, for a `state_change`, the webhook deliveries; `journaled` says whether it
    did, so that the caller writes them itself otherwise. On SQLite, for a `state_change`,
    the UPDATE's RETURNING says whether a webhook listens (`listened`), so that the caller
    sends no INSERT ... SELECT for none (the usual case).

    The ORM's unit of work costs several times the statement itself for one row; it is kept
    only when the change is more than this row's columns (a decision created or withdrawn,
    another object changed in the session), where it orders the statements."""
    changed = inspect(dossier).committed_state
    if (
        session.new
        or session.deleted
        or any(key not in _COLUMNS for key in changed)
        or any(other is not dossier for other in session.dirty)
    ):
        session.flush()
        return Written(journaled=False)
    version = dossier.version
    connection = session.connection()
    if any(key in SEARCHED for key in changed):  # the deposit's number, for one
        dossier.search_text = current_search_text(connection, dossier)
    values = {key: getattr(dossier, key) for key in changed if key != "version"}
    parameters = {f"new_{k}": v for k, v in values.items()}
    parameters.update(_id=dossier.id, _version=version)
    keys = tuple(sorted(values))
    journaled = connection.dialect.name == "postgresql"
    listened = True
    if journaled:
        statement = _journaled_update(
            keys, tuple((m.template, m.to, m.attach) for m in mails), state_change
        )
        written = connection.execute(statement, {**parameters, **journal, **(mail_values or {})})
        count = written.scalar_one()
    elif not state_change:
        count = connection.execute(_update_statement(keys), parameters).rowcount
        listened = False
    else:
        # SQLite: from this UPDATE to the commit the transaction holds the database's one
        # write lock (a stale snapshot would make the UPDATE fail busy instead), so no other
        # writer can register a webhook between this count and the deliveries' INSERT.
        rows = connection.execute(_counting_update(keys), parameters).all()
        count = len(rows)
        listened = bool(rows and rows[0][0])
    if count != 1:
        raise ConflictError()
    set_committed_value(dossier, "version", version + 1)
    # What the unit of work does to an object it has just written: its current values become
    # the committed ones and it leaves the session's modified set, so that the commit's flush
    # has nothing to look at (left modified, it would cost as much as the UPDATE saved).
    state = inspect(dossier)
    state._commit_all(state.dict, session.identity_map)
    return Written(journaled=journaled, listened=listened)


@cache
def _update_statement(keys: tuple[str, ...]) -> Update:
    """Built once per set of changed columns: building a statement costs more than running
    it, and a statement built once keeps its cache key."""
    table = Dossier.__table__
    values = {_COLUMNS[k]: bindparam(f"new_{k}", type_=_COLUMNS[k].type) for k in keys}
    return (
        update(table)
        .where(table.c.id == bindparam("_id"), table.c.version == bindparam("_version"))
        .values({**values, table.c.version: table.c.version + 1})
    )


@cache
def _counting_update(keys: tuple[str, ...]) -> Update:
    """The UPDATE of `_update_statement` returning how many webhooks of the dossier's
    campaign listen to state changes (SQLite allows a subquery in RETURNING)."""
    # Named in full: SQLAlchemy writes RETURNING's columns without their table, subqueries
    # included, and a bare `campaign_id` there would be the webhooks' own.
    campaign_id = literal_column("dossiers.campaign_id", Integer)
    return _update_statement(keys).returning(listening_webhooks(campaign_id, STATE_CHANGE))


@cache
def _journaled_update(
    keys: tuple[str, ...], mails: tuple[tuple[str, str, str | None], ...], state_change: bool
) -> Select:
    """PostgreSQL: the UPDATE, the audit INSERT, the outbox INSERT and, for a change of
    state, the webhook deliveries as one statement (writable CTEs fed by UPDATE ...
    RETURNING, as the campaign closing does); selects how many rows the UPDATE changed."""
    table = Dossier.__table__
    moved = (
        _update_statement(keys)
        .returning(table.c.id, table.c.campaign_id, table.c.organisation_id, table.c.partner_email)
        .cte("moved")
    )
    audited = (
        insert(AuditEvent.__table__)
        .from_select(AUDIT_COLUMNS, audit_select(moved))
        .returning(AuditEvent.__table__.c.id)
        .cte("audited")
    )
    statement = select(func.count()).select_from(moved).add_cte(audited)
    if state_change:
        hooked = (
            insert(WebhookDelivery.__table__)
            .from_select(DELIVERY_COLUMNS, delivery_select(moved.c.campaign_id, STATE_CHANGE))
            .returning(WebhookDelivery.__table__.c.id)
            .cte("hooked")
        )
        statement = statement.add_cte(hooked)
    rows = mail_rows([MailTo(*mail) for mail in mails], moved)
    if rows:
        queued = (
            insert(OutboxMail.__table__)
            .from_select(OUTBOX_COLUMNS, union_all(*rows) if len(rows) > 1 else rows[0])
            .returning(OutboxMail.__table__.c.id)
            .cte("queued")
        )
        statement = statement.add_cte(queued)
    return statement


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


def _mails(spec: EventSpec, dossier: Dossier, firing: Firing) -> tuple[list[MailSpec], dict]:
    """The mails the transition queues and their context."""
    # A decision mail of a campaign that groups its results waits for publish_results.
    grouped = dossier.campaign.publication == "grouped"
    mails = [m for m in spec.mails if not (m.on_publication and grouped)]
    context = {k: v for k, v in firing.payload.items() if k in ("message", "reason")}
    return mails, context


# Built once: a statement built per call spends more on its cache key than on the query.
_LOAD = select(Dossier).options(joinedload(Dossier.campaign)).where(Dossier.id == bindparam("id"))


def load_dossier(session: Session, dossier_id: int, *, whole: bool = False) -> Dossier | None:
    """A dossier with its campaign, as `fire` needs them (one query instead of two); the
    session's own copy when it has one, like `Session.get`, unless `whole` asks for the query
    anyway: it fills in the columns that a partial load (`editing.load_to_save`) left out.

    The row is read by a Core statement and the two objects are made persistent from it as
    the ORM's loading leaves them (`_persistent`): for one row, the ORM's query builds its
    row processors anew at each execution, which cost a transition about a tenth of its
    time (bench/core.py). A dossier the session holds expired is refreshed by the ORM."""
    present = session.identity_map.get(identity_key(Dossier, dossier_id))
    if present is not None:
        if not whole and not inspect(present).expired:
            return present
        return session.execute(_LOAD, {"id": dossier_id}).scalar_one_or_none()
    row = session.connection().execute(_ROW, {"id": dossier_id}).first()
    if row is None:
        return None
    split = len(_DOSSIER_KEYS)
    dossier = _persistent(session, Dossier, _DOSSIER_KEYS, row[:split])
    set_committed_value(
        dossier, "campaign", _persistent(session, Campaign, _CAMPAIGN_KEYS, row[split:])
    )
    return dossier


def _columns(model: type) -> tuple[tuple[str, ...], list[Any]]:
    """The model's column attributes, the primary key first, and their columns."""
    attributes = list(inspect(model).column_attrs)
    assert attributes[0].key == "id"
    return tuple(a.key for a in attributes), [a.columns[0] for a in attributes]


_DOSSIER_KEYS, _dossier_columns = _columns(Dossier)
_CAMPAIGN_KEYS, _campaign_columns = _columns(Campaign)
# Every column of both, as `_LOAD` reads them (the campaign is not null).
_ROW = (
    select(*_dossier_columns, *_campaign_columns)
    .select_from(Dossier.__table__.join(Campaign.__table__))
    .where(Dossier.__table__.c.id == bindparam("id"))
)


def _persistent(session: Session, model: type, keys: tuple[str, ...], row: Sequence[Any]) -> Any:
    """The session's object of this row when it has one, else a new persistent object that
    holds the row's values as loaded ones (no history: a flush writes only what changes
    later; relationships load lazily, as after an ORM query)."""
    key = identity_key(model, row[0])
    present = session.identity_map.get(key)
    if present is not None:
        return present
    # What sqlalchemy.orm.loading does for a row of an object new to the session; what it
    # does besides (load events, eager loaders) these two models have none of.
    instance = inspect(model).class_manager.new_instance()
    state = inspect(instance)
    state.dict.update(zip(keys, row, strict=True))
    state.key = key
    state.session_id = session.hash_key
    session.identity_map.add(state)
    return instance


def allowed_events(dossier: Dossier, actor: Actor) -> list[EventSpec]:
    """The events this actor may try from the dossier's state (guards not yet checked)."""
    return [e for e in workflow().events_from(dossier.state) if actor.role in e.who]


# --- what the déposant's pages ask before offering an action ---------------------------------

DECIDED_STATES = ("accepte", "refuse", "sans_suite", "liste_complementaire")


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
