"""The audit trail read back as a timeline: who did what, when, from which state to which,
and with what message. Instructors read a dossier's; administrators a campaign's own."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.schema import Campaign as Definition
from workflow.machine.states import workflow
from workflow.models import AuditEvent
from workflow.plumbing.dates import format_date, format_instant

# What the audit trail records besides the events of states.yaml (whose labels come from it).
LABELS = {
    "creer": "Dossier créé",
    "modifier": "Volet enregistré",
    "confirmer": "Attestations et consentement enregistrés",
    "joindre": "Pièce jointe",
    "retirer": "Pièce retirée",
    "prioriser": "Ordre de priorité modifié",
    "supprimer": "Dossier supprimé",
    "demander_avis": "Avis demandé",
    "donner_avis": "Avis donné",
    "supprimer_avis": "Avis supprimé",
    "co_signer": "Co-signé par le partenaire",
    "message": "Message (messagerie)",
    # The avis the déposant collects before deposit (avis_collected.py).
    "inviter_avis": "Signataire d'avis invité par le déposant",
    "reinviter_avis": "Signataire d'avis invité de nouveau (nouveau lien)",
    "relancer_avis": "Signataire d'avis relancé par le déposant",
    "publier_resultats": "Résultats publiés",
    "modifier_date_limite": "Date limite modifiée",
    "ouvrir_campagne": "Campagne ouverte",
    "clore_campagne": "Campagne close",
    "charger_campagne": "Campagne chargée",
    "suivre_campagne": "Instructeur ajouté à la campagne",
    "ne_plus_suivre_campagne": "Instructeur retiré de la campagne",
    "archiver_document": "Document archivé (envoyé ou téléchargé)",
    # The selection commission (workflow/commission).
    "creer_seance_commission": "Séance de commission créée",
    "ajouter_membre_commission": "Membre ajouté à la séance de commission",
    "inviter_membre_commission": "Membre invité à la séance de commission",
    "avis_commission": "Avis de la commission",
    "noter_dossier": "Dossier noté par un membre de la commission",
    "proposer_decisions": "Décisions proposées par la commission",
    "ajuster_proposition": "Proposition de décision modifiée",
    "appliquer_decisions": "Décisions de la commission appliquées",
    "modifier_postes_finances": "Postes financés modifiés",
    "liste_complementaire_poste_libere": "Poste libéré : liste complémentaire",
}
VERDICTS = {"favorable": "favorable", "defavorable": "défavorable"}


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    who: str
    what: str
    from_state: str | None
    to_state: str | None
    details: tuple[str, ...]

    @property
    def changes_state(self) -> bool:
        return self.from_state != self.to_state and self.to_state is not None


def dossier_timeline(
    session: Session, dossier_id: int, definition: Definition | None = None
) -> list[Entry]:
    """Every audit event of a dossier, oldest first; `definition` names volets and pieces."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.dossier_id == dossier_id)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return [_entry(event, definition) for event in events]


def campaign_timeline(session: Session, campaign_id: int, limit: int = 200) -> list[Entry]:
    """The campaign's own audit events (dates, loading, instructeurs), newest first."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.campaign_id == campaign_id, AuditEvent.dossier_id.is_(None))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return [_entry(event, None) for event in events]


def _entry(event: AuditEvent, definition: Definition | None) -> Entry:
    flow = workflow()
    spec = flow.events.get(event.event)
    what = spec.label if spec else LABELS.get(event.event, event.event)
    labels = flow.state_labels
    return Entry(
        at=event.at,
        who=event.actor_label,
        what=what,
        from_state=labels.get(event.from_state) if event.from_state else None,
        to_state=labels.get(event.to_state) if event.to_state else None,
        details=tuple(_details(event.payload or {}, definition)),
    )


def _details(payload: dict[str, Any], definition: Definition | None) -> list[str]:
    """The payload as sentences, in a fixed order; unknown keys are left out."""
    out: list[str] = []
    if payload.get("bulk"):
        out.append("Changement d'ensemble (clôture de la campagne ou publication).")
    if payload.get("message"):
        out.append(f"Message : {payload['message']}")
    if payload.get("due_date"):
        out.append(f"À corriger au plus tard le {_day(payload['due_date'])} inclus.")
    if payload.get("motivation"):
        out.append(f"Motivation : {payload['motivation']}")
    if payload.get("reason"):
        out.append(f"Motif : {payload['reason']}")
    if payload.get("motif"):
        out.append(f"Motif : {payload['motif']}")
    if payload.get("avant") or payload.get("apres"):
        out.append(f"Avant : {payload.get('avant', '—')} ; après : {payload.get('apres', '—')}.")
    if payload.get("fonction"):
        out.append(f"Signataire : {payload.get('nom', '—')}, {payload['fonction']}.")
    if payload.get("start_date"):
        out.append(f"Date effective de prise de poste : {_day(payload['start_date'])}.")
    if payload.get("volet"):
        out.append(f"Volet : {_label(definition, 'volets', payload['volet'])}")
    if payload.get("piece"):
        piece = _label(definition, "pieces", payload["piece"])
        name = f" (« {payload['filename']} »)" if payload.get("filename") else ""
        out.append(f"Pièce : {piece}{name}")
    if payload.get("avis"):
        avis = _label(definition, "avis", payload["avis"])
        who = f", {payload['email']}" if payload.get("email") else ""
        verdict = VERDICTS.get(payload.get("verdict") or "")
        out.append(f"Avis : {avis}{who}" + (f" — {verdict}" if verdict else ""))
    if payload.get("avis_commission"):
        rank = f", rang {payload['rang']}" if payload.get("rang") else ""
        out.append(f"Avis de la commission : {payload['avis_commission']}{rank}.")
    if "from" in payload and "to" in payload:
        out.append(f"Rang {payload['from']} → {payload['to']}.")
    if payload.get("instructeur"):
        out.append(f"Instructeur : {payload['instructeur']}")
    if payload.get("version"):
        out.append(f"Version du formulaire : {payload['version']}")
    if payload.get("sha256"):
        out.append(f"Fichier : « {payload.get('filename', '')} », SHA-256 {payload['sha256']}")
    if payload.get("changement"):
        out.append(f"Formulaire : {payload['changement']}.")
    if payload.get("fichier"):
        out.append(f"Fichier : {payload['fichier']}")
    return out


def _day(value: str) -> str:
    try:
        return format_date(dt.date.fromisoformat(value))
    except ValueError:
        try:
            return format_instant(value)
        except ValueError:
            return value


def _label(definition: Definition | None, part: str, key: str) -> str:
    """The title or label the campaign gives to a volet, piece or avis key (the key itself
    if the version no longer has it)."""
    for item in getattr(definition, part, ()) if definition is not None else ():
        if item.key == key:
            return getattr(item, "title", None) or item.label
    return key
