"""Avis on a dossier: an instructor invites a person (coordonnateur de la spécialité, chef de
service, directeur, président de CME) by mail; that person, without an account, answers
through a signed, expiring link; instructors consult and delete avis.

The link carries the avis id signed with the application's secret key (itsdangerous); it
stops working when it expires, when the avis is deleted, and for answering once the avis is
given. Every function runs inside the caller's transaction and is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from workflow.campaigns.store import definition_of
from workflow.journal import outbox
from workflow.journal.audit import record_audit
from workflow.journal.webhooks import AVIS_GIVEN, queue_webhook
from workflow.models import Avis, Dossier
from workflow.people.actors import Actor
from workflow.plumbing import clock, identifiers
from workflow.plumbing.dates import format_instant
from workflow.plumbing.errors import InvalidInput, InvalidLink, TransitionRefused
from workflow.plumbing.storage import FileStore, check_pdf

LINK_LIFETIME = dt.timedelta(days=30)
VERDICTS = {"favorable": "Favorable", "defavorable": "Défavorable"}
STAFF = ("instructeur", "administrateur")


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="postes-partages/avis")


def avis_token(avis_id: int, secret_key: str, link_version: int = 1) -> str:
    """The token of an avis' personal link; a re-invitation raises the avis' link version,
    and the links of the older versions stop working."""
    data: dict[str, int] = {"avis": avis_id}
    if link_version != 1:
        data["v"] = link_version
    return _serializer(secret_key).dumps(data)


def invite_avis(
    session: Session,
    dossier: Dossier,
    avis_key: str,
    giver_email: str,
    giver_name: str,
    actor: Actor,
    *,
    secret_key: str,
    base_url: str,
    now: dt.datetime | None = None,
) -> Avis:
    """Asks a person for an avis the campaign lists, and mails them their personal link."""
    now = now or clock.now()
    label = "Demander un avis"
    if actor.role not in STAFF:
        raise TransitionRefused(label, ["Action réservée à l'ARS."])
    if dossier.state == "brouillon":
        raise TransitionRefused(label, ["Un brouillon n'est pas encore soumis à avis."])
    kinds = {a.key: a for a in definition_of(session, dossier.campaign_version_id).avis}
    if avis_key not in kinds:
        raise InvalidInput("Cet avis n'est pas prévu par la campagne.", {"avis_key": "Inconnu."})
    try:
        email = identifiers.check_email(giver_email).value
    except identifiers.IdentifierError as exc:
        raise InvalidInput(exc.message, {"giver_email": exc.message}) from exc
    avis = Avis(
        dossier_id=dossier.id,
        avis_key=avis_key,
        giver_email=email,
        giver_name=giver_name.strip() or None,
        invited_at=now,
        expires_at=now + LINK_LIFETIME,
    )
    session.add(avis)
    session.flush()
    link = f"{base_url.rstrip('/')}/avis/{avis_token(avis.id, secret_key)}"
    context = {
        "avis_label": kinds[avis_key].label,
        "link": link,
        "expires_at": (now + LINK_LIFETIME).isoformat(),
    }
    outbox.queue(session, "demande_avis", [email], dossier=dossier, context=context, now=now)
    record_audit(
        session,
        dossier,
        actor,
        "demander_avis",
        dossier.state,
        now,
        {"avis": avis_key, "email": email},
    )
    return avis


def avis_from_token(session: Session, token: str, secret_key: str) -> Avis:
    """The avis of a personal link; InvalidLink, in French, if the link cannot be used."""
    try:
        data: Any = _serializer(secret_key).loads(token, max_age=int(LINK_LIFETIME.total_seconds()))
    except SignatureExpired as exc:
        raise InvalidLink(
            "Ce lien a expiré : demandez-en un nouveau à l'ARS (adresse dans le mail reçu)."
        ) from exc
    except BadSignature as exc:
        raise InvalidLink("Ce lien n'est pas valide : vérifiez qu'il est complet.") from exc
    avis = session.get(Avis, data.get("avis")) if isinstance(data, dict) else None
    if avis is None:
        raise InvalidLink("Cette demande d'avis a été retirée par l'ARS.")
    by_deposant = avis.invited_by == "deposant"
    ask = "à l'organisation qui vous l'a demandé" if by_deposant else "à l'ARS"
    if data.get("v", 1) != avis.link_version:
        raise InvalidLink(
            f"Ce lien a été remplacé par un lien plus récent : utilisez le dernier mail reçu, "
            f"ou demandez-en un nouveau {ask}."
        )
    if avis.given_at is None and avis.expires_at is not None and clock.now() >= avis.expires_at:
        raise InvalidLink(f"Ce lien a expiré : demandez-en un nouveau {ask}.")
    return avis


def give_avis(
    session: Session,
    avis: Avis,
    verdict: str,
    comment: str,
    storage_name: str | None = None,
    now: dt.datetime | None = None,
) -> Avis:
    """Records the answer of the person asked; an avis is given once. The webhooks listening
    to `dossier.avis_donne` get their delivery queued."""
    now = now or clock.now()
    if avis.given_at is not None:
        raise InvalidInput(f"Cet avis a déjà été donné, le {format_instant(avis.given_at)}.")
    if verdict not in VERDICTS:
        message = "Indiquez un avis favorable ou défavorable."
        raise InvalidInput(message, {"verdict": message})
    avis.verdict = verdict
    avis.comment = comment.strip() or None
    avis.storage_name = storage_name
    avis.given_at = now
    session.flush()
    dossier = session.get(Dossier, avis.dossier_id)
    assert dossier is not None
    giver = Actor("avis", None, None, avis.giver_email)
    record_audit(
        session,
        dossier,
        giver,
        "donner_avis",
        dossier.state,
        now,
        {"avis": avis.avis_key, "verdict": verdict},
    )
    announce_avis_given(session, dossier, avis, now)
    return avis


def announce_avis_given(session: Session, dossier: Dossier, avis: Avis, now: dt.datetime) -> None:
    """Queues the `dossier.avis_donne` webhook of a given avis, in the caller's transaction;
    none for a brouillon, which does not exist for the ARS's tools (an avis the déposant
    collects before deposit)."""
    if dossier.state == "brouillon":
        return
    given = {
        "dossier_id": dossier.id,
        "number": dossier.number,
        "campaign_id": dossier.campaign_id,
        "avis_id": avis.id,
        "avis_key": avis.avis_key,
        "verdict": avis.verdict,
        "at": now.isoformat(),
    }
    queue_webhook(session, dossier.campaign_id, AVIS_GIVEN, given, now)


def delete_avis(  # type: ignore[no-untyped-def]
    session: Session,
    avis: Avis,
    actor: Actor,
    now: dt.datetime | None = None,
    storage: FileStore | None = None,
):
    """Withdraws a request or removes a given avis; its link stops working. Its signed PDF,
    if any, is removed from `storage` once this commits."""
    now = now or clock.now()
    if actor.role not in STAFF:
        raise TransitionRefused("Supprimer l'avis", ["Action réservée à l'ARS."])
    dossier = session.get(Dossier, avis.dossier_id)
    assert dossier is not None
    record_audit(
        session,
        dossier,
        actor,
        "supprimer_avis",
        dossier.state,
        now,
        {"avis": avis.avis_key, "email": avis.giver_email, "verdict": avis.verdict},
    )
    if storage is not None and avis.storage_name:
        storage.delete_after_commit(session, avis.storage_name)
    session.delete(avis)
    session.flush()


def answer_avis(
    session: Session,
    avis: Avis,
    verdict: str,
    comment: str,
    signed_pdf: tuple[str, bytes] | None,
    storage: FileStore,
    now: dt.datetime | None = None,
) -> Avis:
    """The avis giver's form: favorable or défavorable, a comment, and optionally the signed
    avis as a PDF (checked by its content, as the pieces are). Every problem is reported at
    once, keyed by field ("verdict", "fichier"); nothing is kept unless all is right, and a
    stored file is removed again if the transaction rolls back.

    The avis is read again, locked, inside the caller's transaction: the copy the page
    loaded may predate an answer sent at the same moment from another tab (then this one is
    refused as already given) or the ARS withdrawing the request (InvalidLink)."""
    current = session.get(Avis, avis.id, with_for_update=True, populate_existing=True)
    if current is None:
        raise InvalidLink("Cette demande d'avis a été retirée par l'ARS.")
    avis = current
    errors: dict[str, str] = {}
    if avis.given_at is None and verdict not in VERDICTS:
        errors["verdict"] = "Indiquez un avis favorable ou défavorable."
    checked_data = None
    if signed_pdf is not None:
        filename, data = signed_pdf
        try:
            check_pdf(data, filename)
            checked_data = data
        except InvalidInput as invalid:
            errors["fichier"] = invalid.message
    if errors:
        raise InvalidInput("L'avis n'a pas été enregistré : corrigez les champs signalés.", errors)
    if avis.given_at is not None:
        give_avis(session, avis, verdict, comment, now=now)  # refused: says when it was given
    name = storage.save_in(session, checked_data) if checked_data is not None else None
    return give_avis(session, avis, verdict, comment, storage_name=name, now=now)
