"""What is held about a person, for them (RGPD right of access): an administrator asks for a
candidate (by RPPS, or name and birth date) or for an account, and gets a ZIP of a JSON file
and the pieces of the dossiers concerned. Asking is written to the security journal, without
the RPPS or name searched (the journal keeps rows forever): the dossiers' numbers only.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.candidates import KEY_LENGTH, normalised_name
from workflow.models import (
    Attachment,
    Avis,
    Campaign,
    Decision,
    Dossier,
    Organisation,
    SecurityEvent,
    SignInSession,
    User,
)
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.plumbing import clock, identifiers
from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.storage import FileStore

NOTHING = "Aucune donnée n'est enregistrée pour cette personne."


@dataclass(frozen=True)
class Person:
    """Whom the export is about: an account, or a candidate by RPPS, or by name and birth
    date."""

    user_id: int | None = None
    rpps: str = ""
    name: str = ""
    birth_date: dt.date | None = None

    def candidate_key(self) -> str | None:
        """The key the dossiers of this candidate carry (workflow.campaigns.candidates)."""
        if self.rpps:
            return f"rpps:{self.rpps}"[:KEY_LENGTH]
        if self.name and self.birth_date:
            return f"nom:{normalised_name(self.name)}:{self.birth_date.isoformat()}"[:KEY_LENGTH]
        return None


def check_person(user_id: str, rpps: str, name: str, birth_date: dt.date | None) -> Person:
    """The person the form names; InvalidInput in French when it names nobody."""
    errors: dict[str, str] = {}
    rpps = rpps.strip()
    if rpps:
        try:
            rpps = identifiers.check_rpps(rpps).value
        except identifiers.IdentifierError as exc:
            errors["rpps"] = exc.message
    if user_id.strip() and not user_id.strip().isdigit():
        errors["user_id"] = "Choisissez un compte de la liste."
    person = Person(
        user_id=int(user_id) if user_id.strip().isdigit() else None,
        rpps=rpps,
        name=" ".join(name.split()),
        birth_date=birth_date,
    )
    if not errors and person.user_id is None and person.candidate_key() is None:
        errors["rpps"] = (
            "Indiquez un compte, ou le n° RPPS du candidat, ou ses nom et prénom avec sa date "
            "de naissance."
        )
    if errors:
        raise InvalidInput("La demande n'a pas été faite : corrigez les champs signalés.", errors)
    return person


def _when(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dossier(session: Session, dossier: Dossier) -> dict[str, Any]:
    campaign = session.get(Campaign, dossier.campaign_id)
    decision = session.scalar(select(Decision).where(Decision.dossier_id == dossier.id))
    avis = session.scalars(select(Avis).where(Avis.dossier_id == dossier.id).order_by(Avis.id))
    return {
        "numero": dossier.number,
        "campagne": campaign.title if campaign else None,
        "etat": dossier.state,
        "cree_le": _when(dossier.created_at),
        "depose_le": _when(dossier.deposited_at),
        "modifie_le": _when(dossier.updated_at),
        "candidat": dossier.candidate_name,
        "partenaire": dossier.partner_name,
        "adresse_partenaire": dossier.partner_email,
        "specialite": dossier.speciality,
        "reponses": dossier.values,
        "attestations": dossier.attestations,
        "consentement": dossier.consent,
        # A decision held for grouped publication is not told before the déposant hears it.
        "decision": (
            {
                "decision": decision.kind,
                "motivation": decision.motivation,
                "decidee_le": _when(decision.decided_at),
                "publiee_le": _when(decision.published_at),
            }
            if decision is not None and decision.published_at is not None
            else None
        ),
        "avis": [
            {
                "avis": a.avis_key,
                "donne_par": a.giver_name,
                "adresse": a.giver_email,
                "avis_rendu": a.verdict,
                "commentaire": a.comment,
                "rendu_le": _when(a.given_at),
            }
            for a in avis
        ],
        "pieces": [
            {"piece": p.piece_key, "fichier": p.filename, "taille": p.size}
            for p in session.scalars(
                select(Attachment)
                .where(Attachment.dossier_id == dossier.id)
                .order_by(Attachment.id)
            )
        ],
    }


def _account(session: Session, user: User) -> dict[str, Any]:
    organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    sessions = session.scalars(
        select(SignInSession).where(SignInSession.user_id == user.id).order_by(SignInSession.id)
    )
    events = session.scalars(
        select(SecurityEvent).where(SecurityEvent.user_id == user.id).order_by(SecurityEvent.id)
    )
    return {
        "adresse": user.email,
        "nom": user.full_name,
        "role": user.role,
        "actif": user.active,
        "cree_le": _when(user.created_at),
        "adresse_confirmee_le": _when(user.email_confirmed_at),
        "organisation": (
            {
                "nom": organisation.name,
                "type": organisation.type,
                "finess": organisation.finess,
                "siret": organisation.siret,
            }
            if organisation
            else None
        ),
        "connexions": [
            {
                "ouverte_le": _when(s.created_at),
                "fermee_le": _when(s.ended_at),
                "adresse_ip": s.client_address,
                "navigateur": s.user_agent,
            }
            for s in sessions
        ],
        "journal_de_securite": [
            {"le": _when(e.at), "evenement": e.kind, "adresse_ip": e.client_address} for e in events
        ],
    }


def export_person(
    session: Session,
    storage: FileStore,
    person: Person,
    actor: Actor,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """The ZIP of what is held about the person (`donnees.json` and `pieces/<n°>/…`),
    journaled in the caller's transaction; InvalidInput when nothing is held."""
    now = now or clock.now()
    user = session.get(User, person.user_id) if person.user_id is not None else None
    dossiers: list[Dossier] = []
    key = person.candidate_key()
    if key is not None:
        dossiers += session.scalars(select(Dossier).where(Dossier.candidate_key == key))
    if user is not None:
        dossiers += session.scalars(select(Dossier).where(Dossier.created_by_id == user.id))
    dossiers = sorted({d.id: d for d in dossiers}.values(), key=lambda d: d.id)
    if user is None and not dossiers:
        raise InvalidInput(NOTHING, {})
    data = {
        "produit_le": now.isoformat(),
        "compte": _account(session, user) if user is not None else None,
        "dossiers": [_dossier(session, d) for d in dossiers],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "donnees.json", json.dumps(data, ensure_ascii=False, indent=2, default=str)
        )
        for dossier in dossiers:
            folder = f"pieces/{dossier.number or 'brouillon-' + str(dossier.id)}"
            for piece in session.scalars(
                select(Attachment).where(Attachment.dossier_id == dossier.id)
            ):
                if storage.exists(piece.storage_name):
                    archive.writestr(
                        f"{folder}/{piece.piece_key}.pdf", storage.read(piece.storage_name)
                    )
    record_security_event(
        session,
        "donnees_exportees",
        user=user,
        actor=actor,
        client_address=client_address,
        detail={
            "recherche": "compte" if user is not None else ("rpps" if person.rpps else "nom"),
            "dossiers": [d.number or f"brouillon {d.id}" for d in dossiers],
        },
        now=now,
    )
    return buffer.getvalue()
