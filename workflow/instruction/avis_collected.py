"""The avis and signatures the déposant collects before deposit (Normandie ASP 2025 pages
9 to 13, ASR 2026 annexes 5 to 11, « impérativement »; IdF ASP « Indiquer l'avis | Consulter
avis »; the ASR candidate's consent of Annexe 12).

The déposant invites each giver by name and address; the giver answers through a signed
personal link without account, the same link as the ARS's avis (`avis.avis_token`), filling
in the annex's blanks the campaign declares and signing with the signed annex as a PDF or,
where the campaign allows it, an explicit « je certifie » with name and function. The déposant
sees each avis' status, reminds or re-invites (a new link; the old one stops), reads what was
given, and never edits it. Every function runs inside the caller's transaction, is audited,
and queues its mails in the outbox.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.avis_defs import AnnexField, AnnexFieldType, AvisDef, AvisKind
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.store import definition_of
from workflow.instruction.avis import LINK_LIFETIME, VERDICTS, announce_avis_given, avis_token
from workflow.journal import outbox
from workflow.journal.audit import record_audit
from workflow.machine.editing import edit_refusal
from workflow.models import Avis, Dossier
from workflow.people.actors import Actor
from workflow.plumbing import clock, identifiers
from workflow.plumbing.dates import format_date, format_instant
from workflow.plumbing.errors import InvalidInput, InvalidLink, TransitionRefused
from workflow.plumbing.storage import FileStore, check_pdf

STATUS_LABELS = {
    "a_inviter": "à inviter",
    "invite": "invité",
    "relance": "relancé",
    "donne": "donné",
    "expire": "expiré",
}
SIGNATURE_LABELS = {
    "pdf": "Annexe signée (PDF)",
    "certification": "Je certifie (nom et fonction)",
}
# The one place the déposant's avis can be asked from: before deposit, or while a deposited
# dossier may still be corrected.
OPEN_STATES = ("brouillon", "en_construction")


def avis_status(avis: Avis | None, now: dt.datetime) -> str:
    """invité, relancé, donné or expiré, read from the avis' dates; « à inviter » when the
    déposant has not asked anyone yet."""
    if avis is None:
        return "a_inviter"
    if avis.given_at is not None:
        return "donne"
    if avis.expires_at is not None and now >= avis.expires_at:
        return "expire"
    return "relance" if avis.reminded_at is not None else "invite"


@dataclass(frozen=True)
class AvisRow:
    """One avis of the « Avis et signatures » section: what the campaign asks, the request
    made, its status, and the dossier's own idea of the giver (to prefill the invitation)."""

    definition: AvisDef
    avis: Avis | None
    status: str
    suggested_name: str
    suggested_email: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def collected_avis(session: Session, dossier: Dossier, now: dt.datetime) -> list[AvisRow]:
    """The avis the campaign asks the déposant to collect, in campaign order, each with its
    current request (the latest one) and status."""
    definition = definition_of(session, dossier.campaign_version_id)
    requests = {
        a.avis_key: a
        for a in session.scalars(
            select(Avis)
            .where(Avis.dossier_id == dossier.id, Avis.invited_by == "deposant")
            .order_by(Avis.id)
        )
    }
    values = dossier.values or {}
    rows = []
    for kind in definition.avis:
        if not kind.before_deposit:
            continue
        name = " ".join(str(_lookup(values, ref) or "").strip() for ref in kind.giver_name_from)
        email = str(_lookup(values, kind.giver_email_from) or "") if kind.giver_email_from else ""
        request = requests.get(kind.key)
        rows.append(AvisRow(kind, request, avis_status(request, now), name.strip(), email))
    return rows


def _lookup(values: Mapping[str, Any], ref: str) -> Any:
    volet, field = ref.split(".", 1)
    return (values.get(volet) or {}).get(field)


def _kind(definition: Definition, avis_key: str) -> AvisDef:
    for kind in definition.avis:
        if kind.key == avis_key and kind.before_deposit:
            return kind
    raise InvalidInput("Cet avis n'est pas demandé par le déposant dans cette campagne.")


def _check_deposant(session: Session, dossier: Dossier, actor: Actor, label: str) -> None:
    if not actor.owns(dossier.organisation_id):
        raise TransitionRefused(label, ["Ce dossier n'appartient pas à votre organisation."])
    if dossier.state not in OPEN_STATES:
        raise TransitionRefused(label, ["Le dossier n'est plus en cours de constitution."])
    refusal = edit_refusal(session, dossier, actor)
    if refusal:
        raise TransitionRefused(label, [refusal])


def _request(session: Session, dossier: Dossier, avis_key: str) -> Avis | None:
    return session.scalar(
        select(Avis)
        .where(
            Avis.dossier_id == dossier.id,
            Avis.avis_key == avis_key,
            Avis.invited_by == "deposant",
        )
        .order_by(Avis.id.desc())
        .limit(1)
    )


def _link(avis: Avis, secret_key: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/avis/{avis_token(avis.id, secret_key, avis.link_version)}"


def _mail_context(kind: AvisDef, dossier: Dossier, link: str | None, avis: Avis) -> dict[str, Any]:
    context: dict[str, Any] = {
        "avis_label": kind.label,
        "organisation": dossier.organisation.name,
        "candidat": kind.giver is AvisKind.CANDIDAT,
        "expires_at": avis.expires_at.isoformat() if avis.expires_at else None,
    }
    if link:
        context["link"] = link
    return context


def invite_giver(
    session: Session,
    dossier: Dossier,
    avis_key: str,
    giver_name: str,
    giver_email: str,
    actor: Actor,
    *,
    secret_key: str,
    base_url: str,
    now: dt.datetime | None = None,
) -> Avis:
    """« Inviter »: asks the giver of one of the campaign's avis, by name and address, and
    mails them their personal link. Asked again (a wrong address, an expired link), the same
    avis gets a new link and the old one stops working. An avis already given cannot be
    asked again: what a giver wrote is theirs."""
    now = now or clock.now()
    label = "Inviter le signataire"
    _check_deposant(session, dossier, actor, label)
    kind = _kind(definition_of(session, dossier.campaign_version_id), avis_key)
    errors: dict[str, str] = {}
    name = giver_name.strip()
    if not name:
        errors["giver_name"] = "Indiquez le nom de la personne invitée."
    elif len(name) > 200:
        errors["giver_name"] = "Le nom ne doit pas dépasser 200 caractères."
    email = ""
    try:
        email = identifiers.check_email(giver_email).value
    except identifiers.IdentifierError as exc:
        errors["giver_email"] = exc.message
    if errors:
        raise InvalidInput("L'invitation n'est pas envoyée : corrigez les champs signalés.", errors)
    avis = _request(session, dossier, avis_key)
    event = "inviter_avis"
    if avis is not None and avis.given_at is not None:
        raise TransitionRefused(
            label,
            [
                f"« {kind.label} » a déjà été donné, le {format_instant(avis.given_at)} : "
                "il ne peut être ni modifié ni demandé à nouveau."
            ],
        )
    if avis is None:
        avis = Avis(dossier_id=dossier.id, avis_key=avis_key, invited_by="deposant")
        session.add(avis)
    else:
        event = "reinviter_avis"
        avis.link_version += 1
    avis.giver_name = name
    avis.giver_email = email
    avis.invited_at = now
    avis.reminded_at = None
    avis.expires_at = now + LINK_LIFETIME
    session.flush()
    link = _link(avis, secret_key, base_url)
    context = _mail_context(kind, dossier, link, avis)
    outbox.queue(session, "invitation_avis", [email], dossier=dossier, context=context, now=now)
    record_audit(
        session, dossier, actor, event, dossier.state, now, {"avis": avis_key, "email": email}
    )
    return avis


def remind_giver(
    session: Session,
    dossier: Dossier,
    avis_key: str,
    actor: Actor,
    *,
    secret_key: str,
    base_url: str,
    now: dt.datetime | None = None,
) -> Avis:
    """« Relancer »: mails the giver their link again. An expired link is not repeated: the
    déposant invites again instead, which makes a new one."""
    now = now or clock.now()
    label = "Relancer le signataire"
    _check_deposant(session, dossier, actor, label)
    kind = _kind(definition_of(session, dossier.campaign_version_id), avis_key)
    avis = _request(session, dossier, avis_key)
    status = avis_status(avis, now)
    if avis is None or status == "a_inviter":
        raise TransitionRefused(label, [f"Personne n'a encore été invité pour « {kind.label} »."])
    if status == "donne":
        raise TransitionRefused(label, [f"« {kind.label} » a déjà été donné."])
    if status == "expire":
        raise TransitionRefused(
            label, ["Le lien a expiré : invitez de nouveau le signataire (un nouveau lien)."]
        )
    avis.reminded_at = now
    session.flush()
    context = _mail_context(kind, dossier, _link(avis, secret_key, base_url), avis)
    outbox.queue(
        session,
        "rappel_avis_deposant",
        [avis.giver_email],
        dossier=dossier,
        context=context,
        now=now,
    )
    record_audit(
        session,
        dossier,
        actor,
        "relancer_avis",
        dossier.state,
        now,
        {"avis": avis_key, "email": avis.giver_email},
    )
    return avis


@dataclass(frozen=True)
class Signature:
    """How the giver signs: `mode` « pdf » with the signed annex, or « certification » with
    the box ticked, a name and a function."""

    mode: str
    certified: bool = False
    name: str = ""
    function: str = ""
    pdf: tuple[str, bytes] | None = None


def answer_fields(kind: AvisDef) -> list[tuple[AnnexField, list[str]]]:
    """Each annex field with the names of its inputs on the giver's form (a period has two)."""
    inputs = []
    for annex_field in kind.fields:
        if annex_field.type is AnnexFieldType.PERIOD:
            names = [f"{annex_field.key}__du", f"{annex_field.key}__au"]
        else:
            names = [annex_field.key]
        inputs.append((annex_field, names))
    return inputs


def _read_answers(kind: AvisDef, form: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for annex_field, names in answer_fields(kind):
        raw = [(form.get(name) or "").strip() for name in names]
        key = annex_field.key
        if annex_field.type is AnnexFieldType.PERIOD:
            days: list[dt.date | None] = []
            for name, text in zip(names, raw, strict=True):
                try:
                    days.append(dt.date.fromisoformat(text) if text else None)
                except ValueError:
                    errors[name] = "Date impossible : indiquez-la au format jj/mm/aaaa."
                    days.append(None)
            if any(name in errors for name in names):
                continue
            start, end = days
            if annex_field.required and (start is None or end is None):
                errors[names[0]] = f"« {annex_field.label} » : indiquez les deux dates."
            elif start and end and end < start:
                errors[names[1]] = "La fin de la période précède son début."
            elif start or end:
                answers[key] = {
                    "du": start.isoformat() if start else None,
                    "au": end.isoformat() if end else None,
                }
            continue
        (text,) = raw
        if annex_field.type is AnnexFieldType.VERDICT:
            if text in VERDICTS:
                answers[key] = text
            elif annex_field.required or text:
                errors[key] = "Indiquez un avis favorable ou défavorable."
            continue
        limit = 5000 if annex_field.type is AnnexFieldType.LONG_TEXT else 300
        if annex_field.required and not text:
            errors[key] = f"« {annex_field.label} » est obligatoire."
        elif len(text) > limit:
            errors[key] = f"{limit} caractères au plus."
        elif text:
            answers[key] = text
    return answers


def answer_collected(
    session: Session,
    avis: Avis,
    form: Mapping[str, str],
    signature: Signature,
    storage: FileStore,
    now: dt.datetime | None = None,
) -> Avis:
    """The giver's answer to an avis the déposant asked: the annex's blanks, then the
    signature. Every problem is reported at once, keyed by input; nothing is kept unless all
    is right, and once given the avis is read-only. The déposant's users are told by mail.

    The avis is read again, locked, inside the caller's transaction (another tab may have
    answered, or the déposant re-invited: then this link is no longer the current one)."""
    now = now or clock.now()
    current = session.get(Avis, avis.id, with_for_update=True, populate_existing=True)
    if current is None:
        raise InvalidLink("Cette demande d'avis a été retirée.")
    if current.link_version != avis.link_version:
        raise InvalidLink("Ce lien a été remplacé par un lien plus récent : utilisez le dernier.")
    avis = current
    if avis.given_at is not None:
        raise InvalidInput(f"Cet avis a déjà été donné, le {format_instant(avis.given_at)}.")
    dossier = session.get(Dossier, avis.dossier_id)
    assert dossier is not None
    definition = definition_of(session, dossier.campaign_version_id)
    kind = _kind(definition, avis.avis_key)
    errors: dict[str, str] = {}
    answers = _read_answers(kind, form, errors)
    checked: bytes | None = None
    if signature.mode not in kind.signature:
        allowed = " ou ".join(SIGNATURE_LABELS[m].lower() for m in kind.signature)
        errors["signature_mode"] = f"Choisissez comment vous signez : {allowed}."
    elif signature.mode == "pdf":
        if signature.pdf is None:
            errors["fichier"] = "Joignez l'annexe signée, au format PDF."
        else:
            filename, data = signature.pdf
            try:
                check_pdf(data, filename)
                checked = data
            except InvalidInput as invalid:
                errors["fichier"] = invalid.message
    else:
        if not signature.certified:
            errors["certifie"] = "Cochez la case pour signer."
        if not signature.name.strip():
            errors["certified_name"] = "Indiquez vos nom et prénom."
        elif len(signature.name.strip()) > 200:
            errors["certified_name"] = "200 caractères au plus."
        # The candidate signs in their own name: only the other givers say their function.
        if kind.giver is not AvisKind.CANDIDAT and not signature.function.strip():
            errors["certified_function"] = "Indiquez votre fonction."
        elif len(signature.function.strip()) > 200:
            errors["certified_function"] = "200 caractères au plus."
    if errors:
        raise InvalidInput(
            "Votre réponse n'est pas enregistrée : corrigez les champs signalés.", errors
        )
    verdict = next(
        (
            answers[f.key]
            for f in kind.fields
            if f.type is AnnexFieldType.VERDICT and f.key in answers
        ),
        None,
    )
    avis.answers = answers
    avis.verdict = verdict
    avis.signature_mode = signature.mode
    if signature.mode == "certification":
        avis.certified_name = signature.name.strip()
        avis.certified_function = signature.function.strip() or None
    else:
        avis.storage_name = storage.save_in(session, checked) if checked is not None else None
    avis.given_at = now
    session.flush()
    giver = Actor("avis", None, None, avis.giver_email)
    record_audit(
        session,
        dossier,
        giver,
        "donner_avis",
        dossier.state,
        now,
        {"avis": avis.avis_key, "verdict": verdict, "signature": signature.mode},
    )
    outbox.queue_for_dossier(
        session,
        [outbox.MailTo("avis_donne", "deposant")],
        dossier.id,
        now,
        {"avis_label": kind.label, "avis_key": kind.key, "giver_name": avis.giver_name or ""},
    )
    announce_avis_given(session, dossier, avis, now)
    return avis


def answers_read(kind: AvisDef, avis: Avis) -> list[tuple[str, str]]:
    """What the giver wrote, as (label, text) in the annex's order, for read-only pages."""
    answers = avis.answers or {}
    rows = []
    for annex_field in kind.fields:
        value = answers.get(annex_field.key)
        if value is None:
            text = "—"
        elif annex_field.type is AnnexFieldType.PERIOD:
            start = dt.date.fromisoformat(value["du"]) if value.get("du") else None
            end = dt.date.fromisoformat(value["au"]) if value.get("au") else None
            text = (
                f"du {format_date(start) if start else '…'} au {format_date(end) if end else '…'}"
            )
        elif annex_field.type is AnnexFieldType.VERDICT:
            text = VERDICTS.get(value, value)
        else:
            text = str(value)
        rows.append((annex_field.label, text))
    return rows
