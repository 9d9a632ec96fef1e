"""The partner's co-signature: where the campaign asks for one (Normandie ASR: the CHU's
Direction des Affaires Médicales), the partner certifies through its link, with the name and
function of the person who signs. Audited; shown to the déposant and the ARS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.store import definition_of
from workflow.journal.audit import record_audit
from workflow.models import Cosignature, Dossier
from workflow.plumbing import clock
from workflow.plumbing.dates import format_instant
from workflow.plumbing.errors import InvalidInput

MAX_TEXT = 200


@dataclass(frozen=True)
class Partner:
    """The partner as the audit trail names it: no account, its address."""

    email: str
    user_id: int | None = None

    @property
    def label(self) -> str:
        return f"partenaire {self.email}"


def cosignature_of(session: Session, dossier: Dossier) -> Cosignature | None:
    """The dossier's co-signature, if given."""
    return session.scalar(select(Cosignature).where(Cosignature.dossier_id == dossier.id))


def cosign(
    session: Session,
    dossier: Dossier,
    signer_name: str,
    signer_function: str,
    certified: bool,
    now: dt.datetime | None = None,
) -> Cosignature:
    """Records the partner's « je certifie » with the signer's name and function, inside
    the caller's transaction; once per dossier. Refused, in French, when the campaign asks
    for no co-signature, a box or a field is missing, or it was already given."""
    now = now or clock.now()
    statement = definition_of(session, dossier.campaign_version_id).cosignature
    if statement is None:
        raise InvalidInput("Cette campagne ne demande pas la co-signature du partenaire.")
    given = cosignature_of(session, dossier)
    if given is not None:
        raise InvalidInput(
            f"La co-signature a déjà été donnée, le {format_instant(given.signed_at)}."
        )
    name, function = signer_name.strip(), signer_function.strip()
    errors = {}
    if not name:
        errors["signer_name"] = "Indiquez le nom et le prénom de la personne qui signe."
    if not function:
        errors["signer_function"] = "Indiquez la fonction de la personne qui signe."
    for key, value in (("signer_name", name), ("signer_function", function)):
        if len(value) > MAX_TEXT:
            errors[key] = f"{MAX_TEXT} caractères au plus."
    if not certified:
        errors["certify"] = "Cochez « Je certifie » pour co-signer."
    if errors:
        raise InvalidInput("La co-signature n'est pas enregistrée.", errors)
    assert dossier.partner_email
    signature = Cosignature(
        dossier_id=dossier.id,
        partner_email=dossier.partner_email,
        signer_name=name,
        signer_function=function,
        statement=statement.statement,
        signed_at=now,
    )
    session.add(signature)
    session.flush()
    payload = {"nom": name, "fonction": function, "texte": statement.statement}
    record_audit(
        session, dossier, Partner(dossier.partner_email), "co_signer", dossier.state, now, payload
    )
    return signature
