"""What every tab of a dossier shows around its form: the tabs with their completeness, the
state as the déposant sees it, whether it can still be edited or deposited and why not, and
the actions the machine offers after the decision."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import url_for
from sqlalchemy.orm import Session

from web.deposant.volet_form import condition_text
from workflow.campaigns.completeness import Problem, Report, condition_holds
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import Piece, Volet
from workflow.campaigns.store import definition_of
from workflow.instruction.readable import decision_blocks
from workflow.machine.editing import edit_refusal, other_volets_open, volet_report
from workflow.machine.guards import campaign_open_reason, step_missing_reason
from workflow.machine.operations import allowed_events, refusal_reasons, state_for_deposant
from workflow.machine.spec import EventSpec
from workflow.messagerie.messages import unread_count
from workflow.models import Attachment, Campaign, Dossier
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date

# The inputs an action's guards ask for: a guard that needs a value gets a field on the page.
DECISION_INPUTS = {"reason_required": "reason", "start_date_reached": "start_date"}
# Offered in the corrections banner of every tab, not among the « Décision » tab's actions.
TRANSMIT_EVENT = "transmettre_corrections"


def _transmit_refusal(
    session: Session, dossier: Dossier, actor: Actor, now: dt.datetime
) -> str | None:
    """Why « Transmettre les corrections » cannot be done now, while corrections are open."""
    if dossier.state != "en_construction" or dossier.corrections_due_at is None:
        return None
    reasons = refusal_reasons(session, dossier, TRANSMIT_EVENT, actor, None, now)
    return reasons[0] if reasons else None


@dataclass(frozen=True)
class Tab:
    label: str
    url: str
    complete: bool | None = None
    locked: bool = False


@dataclass(frozen=True)
class EventView:
    """An action offered on the « Décision » tab: its inputs, or the sentence saying when it
    opens (the first reason its guards give today)."""

    spec: EventSpec
    inputs: tuple[str, ...]
    closed: str | None


@dataclass
class DossierPage:
    dossier: Dossier
    campaign: Campaign
    definition: Definition
    report: Report
    state: str
    edit_refusal: str | None
    deposit_refusal: str | None
    can_deposit: bool
    events: list[EventView]
    now: dt.datetime
    first_saved: bool
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    unread: int = 0
    transmit_refusal: str | None = None

    @classmethod
    def build(cls, session: Session, dossier: Dossier, actor: Actor) -> DossierPage:
        now = clock.now()
        definition = definition_of(session, dossier.campaign_version_id)
        report = volet_report(definition, dossier)
        state = state_for_deposant(dossier)
        offered = allowed_events(dossier, actor) if state == dossier.state else []
        today = paris_date(now)
        events = []
        for spec in offered:
            if spec.name in ("deposer", TRANSMIT_EVENT):
                continue
            if step_missing_reason(spec.name, definition):
                continue  # a step this campaign does not have (AUMG ends at the decision)
            inputs = tuple(DECISION_INPUTS[g] for g in spec.guards if g in DECISION_INPUTS)
            # Probed with plausible inputs: what remains is what the date or window says.
            probe = {"reason": "-", "start_date": today}
            reasons = refusal_reasons(session, dossier, spec.name, actor, probe, now)
            events.append(EventView(spec, inputs, reasons[0] if reasons else None))
        return cls(
            dossier=dossier,
            campaign=dossier.campaign,
            definition=definition,
            report=report,
            state=state,
            edit_refusal=edit_refusal(session, dossier, actor, now),
            deposit_refusal=campaign_open_reason(dossier.campaign, now),
            can_deposit=any(e.name == "deposer" for e in offered),
            events=events,
            now=now,
            first_saved=other_volets_open(definition, dossier),
            problems=report.by_place(),
            unread=unread_count(session, dossier.id, actor) if dossier.number else 0,
            transmit_refusal=_transmit_refusal(session, dossier, actor, now),
        )

    @property
    def corrections_open(self) -> bool:
        """The ARS asked for corrections, not yet transmitted: the banner of every tab."""
        return (
            self.dossier.state == "en_construction" and self.dossier.corrections_due_at is not None
        )

    @property
    def editable(self) -> bool:
        return self.edit_refusal is None

    @property
    def first(self) -> Volet:
        return self.definition.volets[0]

    @property
    def attachments(self) -> dict[str, Attachment]:
        return {a.piece_key: a for a in self.dossier.attachments}

    def missing_pieces(self) -> set[str]:
        return {p.key for p in self.problems.get("pieces", []) if p.key}

    def volet_complete(self, volet: Volet) -> bool:
        mine = {p.key for p in self.definition.pieces if p.volet == volet.key}
        return not self.problems.get(volet.key) and not (mine & self.missing_pieces())

    def tabs(self) -> list[Tab]:
        """The manuals' tabs: the volets, « Joindre fichier », « Dossier complet /
        Confirmer » and « Décision »; the others stay locked until the first volet is saved."""
        d = self.dossier
        tabs = [
            Tab(
                volet.title,
                url_for("deposant.volet", dossier_id=d.id, volet_key=volet.key),
                self.volet_complete(volet),
                locked=index > 0 and not self.first_saved,
            )
            for index, volet in enumerate(self.definition.volets)
        ]
        if self.definition.pieces:
            tabs.append(
                Tab(
                    "Joindre fichier / Supprimer fichier",
                    url_for("deposant.pieces", dossier_id=d.id),
                    not self.problems.get("pieces"),
                    locked=not self.first_saved,
                )
            )
        if any(a.before_deposit for a in self.definition.avis):
            tabs.append(
                Tab(
                    "Avis et signatures",
                    url_for("deposant_avis.avis_list", dossier_id=d.id),
                    not self.problems.get("avis"),
                )
            )
        tabs.append(
            Tab(
                "Dossier complet / Confirmer",
                url_for("deposant.confirm", dossier_id=d.id),
                self.report.complete,
            )
        )
        tabs.append(Tab("Décision", url_for("deposant.decision", dossier_id=d.id)))
        if d.number is not None:
            unread = (
                f" ({self.unread} non lu{'s' if self.unread > 1 else ''})" if self.unread else ""
            )
            tabs.append(Tab(f"Messagerie{unread}", url_for("deposant.messagerie", dossier_id=d.id)))
        return tabs

    def anchor(self, problem: Problem) -> str:
        """Where a missing item of the checklist is put right."""
        d = self.dossier
        if problem.place == "pieces":
            piece = next((p for p in self.definition.pieces if p.key == problem.key), None)
            if piece is not None and piece.volet:
                url = url_for("deposant.volet", dossier_id=d.id, volet_key=piece.volet)
            else:
                url = url_for("deposant.pieces", dossier_id=d.id)
            return f"{url}#piece-{problem.key}"
        if problem.place == "confirmation":
            return f"{url_for('deposant.confirm', dossier_id=d.id)}#f-{problem.key}"
        if problem.place == "avis":
            return f"{url_for('deposant_avis.avis_list', dossier_id=d.id)}#avis-{problem.key}"
        url = url_for("deposant.volet", dossier_id=d.id, volet_key=problem.place)
        return f"{url}#f-{problem.key}" if problem.key else url

    def place_title(self, place: str) -> str:
        if place == "pieces":
            return "Pièces justificatives"
        if place == "confirmation":
            return "Attestations et consentement"
        if place == "avis":
            return "Avis et signatures"
        try:
            return self.definition.volet(place).title
        except KeyError:
            return place

    def decision_summary(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The blocks the campaign recalls on the « Décision » tab, each field as (label,
        value as read)."""
        return decision_blocks(self.definition, self.dossier.values or {})

    def piece_condition(self, piece: Piece) -> str | None:
        """When a piece is required only in some cases, which one."""
        if not piece.required or piece.required_if is None:
            return None
        return f"Obligatoire si {condition_text(self.definition, piece.required_if)}."

    def piece_required(self, piece: Piece) -> bool:
        """Required now: always, or because the condition of `required_if` holds."""
        if not piece.required:
            return False
        return piece.required_if is None or condition_holds(
            piece.required_if, self.dossier.values or {}
        )
