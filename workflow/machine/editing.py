"""A déposant's changes to a dossier that are not transitions: creating it, saving its volets
and its « Confirmer » tab, its pieces, its place in the order of priority, deleting it.
Each runs inside the caller's `db.transaction(...)` and writes an audit event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload, load_only, object_session, selectinload

from workflow.campaigns.avis_required import missing_avis_of
from workflow.campaigns.candidates import candidate_key
from workflow.campaigns.completeness import Report, check_volet, completeness
from workflow.campaigns.fields import clean_value
from workflow.campaigns.per_dossier import ars_contact_of
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import FieldType
from workflow.campaigns.store import current_version, definition_of
from workflow.journal.audit import audit_parameters, record_audit
from workflow.machine.guards import NOT_YOURS, campaign_open_reason, same_candidate_reason
from workflow.machine.operations import write_change
from workflow.machine.states import workflow
from workflow.models import Attachment, Avis, Campaign, Dossier, Message, Organisation
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import ConflictError, InvalidInput, TransitionRefused, WorkflowError
from workflow.plumbing.storage import FileStore, check_pdf

EDITABLE_STATES = ("brouillon", "en_construction")


def create_dossier(
    session: Session, campaign: Campaign, actor: Actor, now: dt.datetime | None = None
) -> Dossier:
    """A new brouillon for the actor's organisation, on the campaign's current version."""
    now = now or clock.now()
    label = "Créer un dossier"
    if actor.role != "deposant" or actor.organisation_id is None:
        raise TransitionRefused(label, ["Seul un déposant peut créer un dossier."])
    reason = campaign_open_reason(campaign, now)
    if reason:
        raise TransitionRefused(label, [reason])
    version = current_version(session, campaign)
    definition = definition_of(session, version.id)
    organisation = session.get(Organisation, actor.organisation_id)
    if organisation is None or organisation.type != definition.depositor:
        raise TransitionRefused(
            label, [f"Cette campagne est réservée au {definition.depositor_label}."]
        )
    dossier = Dossier(
        campaign_id=campaign.id,
        campaign_version_id=version.id,
        organisation_id=actor.organisation_id,
        created_by_id=actor.user_id,
        state=workflow().initial,
        values={},
        attestations=[],
        consent=False,
        created_at=now,
        updated_at=now,
    )
    session.add(dossier)
    session.flush()
    record_audit(session, dossier, actor, "creer", None, now, {})
    return dossier


def _check_editable(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    now: dt.datetime,
    label: str,
    corrections_reopen: bool = True,
    expected_version: int | None = None,
) -> None:
    """Refuses a déposant's change outside its own, editable dossiers and outside the
    deposit period; corrections asked by the ARS reopen editing (not deletion) until their
    due date. `expected_version` is the version the page showed: another change since then
    is a conflict."""
    if expected_version is not None and dossier.version != expected_version:
        raise ConflictError()
    if not actor.owns(dossier.organisation_id):
        raise TransitionRefused(label, [NOT_YOURS])
    if dossier.state not in EDITABLE_STATES:
        state = workflow().state_labels[dossier.state]
        raise TransitionRefused(label, [f"Le dossier est « {state} » : il n'est plus modifiable."])
    reason = campaign_open_reason(dossier.campaign, now)
    due = dossier.corrections_due_at
    under_corrections = dossier.state == "en_construction" and due is not None and now < due
    if reason and corrections_reopen and under_corrections:
        reason = None  # corrections requested: editable until their due date
    if reason:
        raise TransitionRefused(label, [reason])


# What saving a volet reads of a dossier and of its campaign: the guards' columns, the values,
# the copy of the organisation's name and the version. The summary columns, the search text
# and `updated_at` are written without being read; the other columns (instruction, deposit,
# priority, dates) and most of the campaign's are left unloaded. Loading the whole rows (28
# and 21 columns) was a third of a save's CPU, sampled on the deadline rush (the ORM builds a
# row processor per column and psycopg a description per column at every query).
_LOAD_TO_SAVE = (
    select(Dossier)
    .options(
        load_only(
            Dossier.number,
            Dossier.campaign_id,
            Dossier.campaign_version_id,
            Dossier.organisation_id,
            Dossier.state,
            Dossier.values,
            Dossier.attestations,
            Dossier.consent,
            Dossier.corrections_due_at,
            Dossier.organisation_name,
            Dossier.version,
        ),
        joinedload(Dossier.campaign).load_only(
            Campaign.opens_at, Campaign.deadline_at, Campaign.deadline_whole_day, Campaign.closed_at
        ),
    )
    .where(Dossier.id == bindparam("id"))
)


def load_to_save(session: Session, dossier_id: int) -> Dossier | None:
    """The dossier and its campaign with what `save_volet` reads, in one query; a column left
    out loads when first read (one query each: a page to render after a refused save reads
    the whole dossier again with `operations.load_dossier(..., whole=True)`)."""
    return session.execute(_LOAD_TO_SAVE, {"id": dossier_id}).scalar_one_or_none()


def save_volet(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    volet_key: str,
    raw: dict[str, Any],
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Saves one volet ("Enregistrer"). The completeness afterwards is `volet_report`'s: the
    page that follows a save computes it, so the save itself does not load the pieces again.
    Returns the French warnings of the saved values by field key (an RPPS key off the usual
    algorithm: kept, but said), as the cleaning found them, so that the page need not clean
    the values again to tell them.

    Nothing is saved when a value is invalid (InvalidInput maps each field to its French
    message, so the page keeps the input on screen). A deposited dossier (en construction)
    must stay complete. Where the campaign says `identification_first`, the other volets
    wait until the first one's required fields are filled.
    """
    now = now or clock.now()
    label = "Enregistrer"
    _check_editable(session, dossier, actor, now, label, expected_version=expected_version)
    definition = definition_of(session, dossier.campaign_version_id)
    try:
        volet = definition.volet(volet_key)
    except KeyError:
        raise WorkflowError(f"Volet inconnu : {volet_key}.") from None
    if volet_key != definition.volets[0].key:
        _require_first_volet(definition, dossier, label)
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    for field in volet.fields:
        result = clean_value(field, raw.get(field.key))
        cleaned[field.key] = result.value
        if result.error:
            errors[field.key] = result.error
        # A table's warnings are its rows' business, shown in the table itself.
        if result.warning and field.type is not FieldType.TABLE:
            warnings[field.key] = result.warning
    if errors:
        raise InvalidInput(f"Le volet « {volet.title} » contient des erreurs.", errors)
    values = {**(dossier.values or {}), volet_key: cleaned}
    if dossier.state == "en_construction":
        report = _report(definition, dossier, values)
        if not report.complete:
            raise InvalidInput(
                "Un dossier déposé doit rester complet : " + " ".join(report.messages()),
                {p.key: p.message for p in report.problems if p.place == volet_key and p.key},
            )
    # Written below by one UPDATE of its own: a query in between must not flush it first.
    with session.no_autoflush:
        dossier.values = values
        _copy_summary(definition, dossier)
        dossier.candidate_key = candidate_key(definition, values)
        if dossier.state == "en_construction":
            # A deposited dossier cannot become a second one for a candidate already proposed.
            duplicate = same_candidate_reason(session, dossier, definition)
            if duplicate:
                raise InvalidInput(duplicate)
        dossier.updated_at = now
        payload = {"volet": volet_key}
        journal = audit_parameters(actor, "modifier", dossier.state, dossier.state, now, payload)
        # The version-checked UPDATE (a lost race stops here), with its audit row on
        # PostgreSQL; no webhook: saving a volet changes no state.
        if not write_change(session, dossier, journal, state_change=False).journaled:
            record_audit(session, dossier, actor, "modifier", dossier.state, now, payload)
    return warnings


def volet_report(definition: Definition, dossier: Dossier) -> Report:
    """The dossier's completeness as the "Dossier complet" tab shows it: before deposit, with
    the required avis and signatures not yet given."""
    report = _report(definition, dossier, dossier.values or {})
    session = object_session(dossier)
    if dossier.state == "brouillon" and session is not None and dossier.id is not None:
        report.problems += missing_avis_of(session, definition, dossier.id)
    return report


def _report(definition: Definition, dossier: Dossier, values: dict[str, Any]) -> Report:
    return completeness(
        definition,
        values,
        pieces=[a.piece_key for a in dossier.attachments],
        attestations=dossier.attestations or [],
        consent=dossier.consent,
    )


def _copy_summary(definition: Definition, dossier: Dossier) -> None:
    """Keeps the recap columns (partner, candidate, speciality) in step with the values."""
    values = dossier.values or {}

    def get(ref: str | None) -> str | None:
        if ref is None:
            return None
        volet_key, field_key = ref.split(".", 1)
        value = (values.get(volet_key) or {}).get(field_key)
        return str(value) if value not in (None, "") else None

    def join(refs: tuple[str, ...]) -> str | None:
        parts = [part for part in (get(ref) for ref in refs) if part]
        return " ".join(parts) or None

    summary = definition.summary
    dossier.partner_name = join(summary.partner_name)
    dossier.candidate_name = join(summary.candidate_name)
    dossier.partner_email = get(summary.partner_email)
    dossier.speciality = get(summary.speciality)
    dossier.ars_contact_email = ars_contact_of(definition, values)


def save_confirmation(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    attestations: list[str],
    consent: bool,
    now: dt.datetime | None = None,
    *,
    expected_version: int | None = None,
) -> Report:
    """The "Confirmer" tab's boxes: the campaign's attestations and the data consent."""
    now = now or clock.now()
    _check_editable(session, dossier, actor, now, "Enregistrer", expected_version=expected_version)
    definition = definition_of(session, dossier.campaign_version_id)
    known = [a.key for a in definition.attestations]
    dossier.attestations = [key for key in known if key in set(attestations)]
    dossier.consent = bool(consent)
    if dossier.state == "en_construction" and not volet_report(definition, dossier).complete:
        raise InvalidInput("Un dossier déposé doit garder toutes ses attestations cochées.")
    dossier.updated_at = now
    session.flush()
    ticked = {"attestations": dossier.attestations, "consent": dossier.consent}
    record_audit(session, dossier, actor, "confirmer", dossier.state, now, ticked)
    return volet_report(definition, dossier)


def delete_dossier(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    now: dt.datetime | None = None,
    storage: FileStore | None = None,
) -> None:
    """Deletes a brouillon or en construction dossier before the deadline; the audit trail
    keeps a line saying so. Its PDF files are removed from `storage` once this commits."""
    now = now or clock.now()
    _check_editable(session, dossier, actor, now, "Supprimer le dossier", corrections_reopen=False)
    record_audit(
        session, dossier, actor, "supprimer", dossier.state, now, {"number": dossier.number}
    )
    if storage is not None:
        for attachment in dossier.attachments:
            storage.delete_after_commit(session, attachment.storage_name)
        # The files of its messagerie and the signed annexes of its avis go too (their rows
        # go with the dossier: ON DELETE CASCADE).
        messages = select(Message.attachment_storage_name).where(
            Message.dossier_id == dossier.id, Message.attachment_storage_name.is_not(None)
        )
        signed = select(Avis.storage_name).where(
            Avis.dossier_id == dossier.id, Avis.storage_name.is_not(None)
        )
        for name in [*session.scalars(messages), *session.scalars(signed)]:
            storage.delete_after_commit(session, name)
    session.delete(dossier)
    session.flush()


def dossiers_of(session: Session, campaign: Campaign, organisation_id: int) -> list[Dossier]:
    """An organisation's dossiers in a campaign, in its order of priority."""
    return list(
        session.scalars(
            select(Dossier)
            .where(Dossier.campaign_id == campaign.id, Dossier.organisation_id == organisation_id)
            .order_by(Dossier.priority.is_(None), Dossier.priority, Dossier.id)
            .options(selectinload(Dossier.attachments))
        )
    )


def edit_refusal(
    session: Session, dossier: Dossier, actor: Actor, now: dt.datetime | None = None
) -> str | None:
    """Why the dossier cannot be edited now (state, deadline), or None when it can."""
    try:
        _check_editable(session, dossier, actor, now or clock.now(), "Enregistrer")
    except TransitionRefused as refused:
        return " ".join(refused.reasons)
    return None


def other_volets_open(definition: Definition, dossier: Dossier) -> bool:
    """Whether the volets after the first, and the pieces, can be filled in. The IdF ASP
    and MGVH manuals: « Une fois l'onglet Identification complété, vous avez la possibilité
    de renseigner les différents onglets dans n'importe quel ordre » — complété, not just
    saved: an empty save opens nothing. Campaigns whose seed says nothing of it
    (`identification_first` absent) open every volet at once."""
    if not definition.identification_first:
        return True
    first = definition.volets[0].key
    values = dossier.values or {}
    return first in values and not check_volet(definition, first, values)


def first_volet_refusal(definition: Definition) -> str:
    """What the déposant is told while the other volets wait for the first."""
    first = definition.volets[0].title
    return (
        f"Complétez et enregistrez d'abord le volet « {first} » (ses champs obligatoires) : "
        "les autres onglets s'ouvrent ensuite, dans l'ordre que vous voulez."
    )


def _require_first_volet(definition: Definition, dossier: Dossier, label: str) -> None:
    if not other_volets_open(definition, dossier):
        raise TransitionRefused(label, [first_volet_refusal(definition)])


def _piece(definition: Definition, piece_key: str):  # type: ignore[no-untyped-def]
    for piece in definition.pieces:
        if piece.key == piece_key:
            return piece
    raise WorkflowError(f"Pièce inconnue : {piece_key}.")


def _clean_filename(filename: str) -> str:
    """The name shown and given back on download: no folders, no control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip() or "document.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name[-200:]


def attach_piece(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    piece_key: str,
    filename: str,
    data: bytes,
    storage: FileStore,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Attachment:
    """« Joindre fichier »: attaches the PDF of one piece, or replaces the one attached.

    Only a real PDF is kept (`storage.check_pdf`: content, not name). The new file is removed
    again if the transaction rolls back; a replaced file is removed once it commits.
    """
    now = now or clock.now()
    label = "Joindre le fichier"
    _check_editable(session, dossier, actor, now, label, expected_version=expected_version)
    definition = definition_of(session, dossier.campaign_version_id)
    piece = _piece(definition, piece_key)
    _require_first_volet(definition, dossier, label)
    checked = check_pdf(data, filename)
    name = storage.save_in(session, data)
    attachment = next((a for a in dossier.attachments if a.piece_key == piece.key), None)
    if attachment is None:
        attachment = Attachment(piece_key=piece.key)
        dossier.attachments.append(attachment)
    else:
        storage.delete_after_commit(session, attachment.storage_name)
    attachment.filename = _clean_filename(filename)
    attachment.storage_name = name
    attachment.size = checked.size
    attachment.sha256 = checked.sha256
    attachment.uploaded_by_id = actor.user_id
    attachment.uploaded_at = now
    dossier.updated_at = now
    session.flush()
    payload = {"piece": piece.key, "filename": attachment.filename, "sha256": checked.sha256}
    record_audit(session, dossier, actor, "joindre", dossier.state, now, payload)
    return attachment


def remove_piece(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    piece_key: str,
    storage: FileStore,
    *,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """« Supprimer fichier »: removes the PDF of one piece. A deposited dossier must stay
    complete, so a required piece of one can be replaced but not removed."""
    now = now or clock.now()
    label = "Supprimer le fichier"
    _check_editable(session, dossier, actor, now, label, expected_version=expected_version)
    definition = definition_of(session, dossier.campaign_version_id)
    piece = _piece(definition, piece_key)
    attachment = next((a for a in dossier.attachments if a.piece_key == piece.key), None)
    if attachment is None:
        raise WorkflowError(f"Aucun fichier n'est joint pour « {piece.label} ».")
    if dossier.state == "en_construction":
        remaining = [a.piece_key for a in dossier.attachments if a is not attachment]
        report = completeness(
            definition,
            dossier.values or {},
            pieces=remaining,
            attestations=dossier.attestations or [],
            consent=dossier.consent,
        )
        if any(p.place == "pieces" and p.key == piece.key for p in report.problems):
            raise TransitionRefused(
                label,
                [
                    f"Un dossier déposé doit rester complet : « {piece.label} » est "
                    "obligatoire. Remplacez le fichier plutôt que de le supprimer."
                ],
            )
    storage.delete_after_commit(session, attachment.storage_name)
    dossier.attachments.remove(attachment)
    dossier.updated_at = now
    session.flush()
    record_audit(session, dossier, actor, "retirer", dossier.state, now, {"piece": piece.key})


def move_in_priority(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    offset: int,
    now: dt.datetime | None = None,
) -> list[Dossier]:
    """Moves a dossier up (offset < 0) or down in its organisation's « ordre de priorité »
    for the campaign, until the deadline; the ranks are renumbered 1..n. Returns the
    dossiers in their new order."""
    now = now or clock.now()
    label = "Ordre de priorité"
    if not actor.owns(dossier.organisation_id):
        raise TransitionRefused(label, [NOT_YOURS])
    reason = campaign_open_reason(dossier.campaign, now)
    if reason:
        raise TransitionRefused(label, [reason])
    ordered = dossiers_of(session, dossier.campaign, dossier.organisation_id)
    index = next(i for i, d in enumerate(ordered) if d.id == dossier.id)
    target = max(0, min(len(ordered) - 1, index + offset))
    ordered.insert(target, ordered.pop(index))
    for rank, item in enumerate(ordered, start=1):
        if item.priority != rank:
            item.priority = rank
    session.flush()
    if target != index:
        payload = {"from": index + 1, "to": target + 1}
        record_audit(session, dossier, actor, "prioriser", dossier.state, now, payload)
    return ordered
