"""The machine of states.yaml: every (state, event) pair is allowed or refused for the
documented reason, and firing never builds a machine."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import func, select
from transitions import Machine

from tests.conftest import at_paris
from workflow.machine.operations import allowed_events, fire
from workflow.machine.states import load_workflow, mermaid, workflow
from workflow.models import STATES, AuditEvent, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import TransitionRefused

FLOW = workflow()

# When each event can succeed: inside the deposit period, the confirmation window (October),
# or from the start date (2 November); instruction happens in between.
WHEN = {
    "deposer": at_paris(2026, 3, 10),
    "confirmer_maintien": at_paris(2026, 10, 15),
    "confirmer_prise_de_poste": at_paris(2026, 11, 5),
}
PAYLOAD = {
    "demander_corrections": {"message": "Joindre le CV signé.", "due_date": dt.date(2026, 7, 1)},
    "accepter": {"motivation": "Projet conforme au cahier des charges."},
    "refuser": {"motivation": "Zone non prioritaire."},
    "classer_sans_suite": {"motivation": "Candidat retiré."},
    "repasser_en_instruction": {"reason": "Erreur de saisie de la décision."},
    "confirmer_prise_de_poste": {"start_date": dt.date(2026, 11, 3)},
    "desister": {"reason": "Le candidat a choisi un autre poste."},
    "inscrire_liste_complementaire": {"motivation": "Rang 3 pour 2 postes financés."},
    "promouvoir_liste_complementaire": {"motivation": "Renonciation du lauréat du groupe."},
    "refuser_liste_complementaire": {"motivation": "Liste complémentaire close."},
}
# What the ARS asked before the déposant can « Transmettre les corrections ».
ASKED = {
    "transmettre_corrections": {
        "corrections_message": "Joindre le CV signé.",
        "corrections_due_at": at_paris(2026, 7, 2),
    }
}


def test_states_yaml_names_exactly_the_states_of_the_design():
    assert tuple(FLOW.state_labels) == STATES
    assert FLOW.initial == "brouillon"


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", list(FLOW.events))
def test_every_state_and_event_pair(world, session, state, event):
    spec = FLOW.events[event]
    campaign = world.campaign()
    hospital = world.organisation()
    role = spec.who[0]
    deposant = world.actor("deposant", hospital)
    actor = deposant if role == "deposant" else world.actor(role)
    # Results are published for the déposant's events after acceptance; a decision can only
    # be taken back before publication.
    dossier = world.dossier(campaign, hospital, state, published=event != "repasser_en_instruction")
    if event in ASKED:
        with transaction(session):
            for column, value in ASKED[event].items():
                setattr(dossier, column, value)
    with time_machine.travel(WHEN.get(event, at_paris(2026, 6, 15)), tick=False):
        if state not in spec.sources:
            with pytest.raises(TransitionRefused) as refused, transaction(session):
                fire(session, dossier, event, actor, PAYLOAD.get(event))
            possible = [e.label for e in FLOW.events_from(state) if role in e.who]
            (reason,) = refused.value.reasons
            assert f"Le dossier est « {FLOW.state_labels[state]} »" in reason
            for label in possible:
                assert f"« {label} »" in reason
            session.expire_all()
            assert dossier.state == state
            return
        with transaction(session):
            fire(session, dossier, event, actor, PAYLOAD.get(event))
    assert dossier.state == spec.dest
    (audit,) = session.scalars(select(AuditEvent).where(AuditEvent.event == event)).all()
    assert (audit.from_state, audit.to_state, audit.actor_id) == (state, spec.dest, actor.user_id)
    queued = session.scalar(select(func.count()).select_from(OutboxMail))
    expected = [m for m in spec.mails if not m.on_publication]  # the campaign groups results
    assert (queued > 0) == bool(expected)


@pytest.mark.parametrize("event", list(FLOW.events))
def test_each_event_is_refused_to_roles_it_does_not_name(world, session, event):
    spec = FLOW.events[event]
    campaign = world.campaign()
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, spec.sources[0], published=True)
    for role in ("deposant", "instructeur", "administrateur"):
        if role in spec.who:
            continue
        actor = world.actor(role, hospital if role == "deposant" else None)
        with pytest.raises(TransitionRefused) as refused, transaction(session):
            fire(session, dossier, event, actor, PAYLOAD.get(event))
        assert refused.value.reasons[0].startswith("Cette action est réservée")


def test_a_deposant_cannot_act_on_another_organisations_dossier(world, session):
    campaign = world.campaign()
    owner = world.organisation("010000156")
    other = world.organisation("010780195")
    dossier = world.dossier(campaign, owner)
    stranger = world.actor("deposant", other)
    with (
        time_machine.travel(at_paris(2026, 3, 10), tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, dossier, "deposer", stranger)
    assert "Ce dossier n'appartient pas à votre organisation." in refused.value.reasons


def test_firing_builds_no_machine(world, session, monkeypatch):
    campaign = world.campaign()
    hospital = world.organisation()
    instructeur = world.actor("instructeur")
    dossiers = [world.dossier(campaign, hospital, "en_construction") for _ in range(3)]
    workflow()  # built once, before counting
    built = []
    original = Machine.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Machine, "__init__", counting)
    for dossier in dossiers:
        with transaction(session):
            fire(session, dossier, "passer_en_instruction", instructeur)
    assert built == []
    assert FLOW.machine.models == []  # no dossier is held by the machine


def test_allowed_events_follow_the_state_and_the_role(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    deposant = world.actor("deposant", hospital)
    assert [e.name for e in allowed_events(dossier, instructeur)] == [
        "demander_corrections",
        "accepter",
        "refuser",
        "classer_sans_suite",
        "inscrire_liste_complementaire",
    ]
    assert allowed_events(dossier, deposant) == []


def test_a_states_file_naming_an_unknown_guard_is_refused(tmp_path):
    from workflow.machine.states import STATES_FILE, StatesFileError

    broken = STATES_FILE.read_text(encoding="utf-8").replace(
        "guards: [motivation_required]", "guards: [motivation_requise]", 1
    )
    path = tmp_path / "states.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(StatesFileError, match="unknown guard 'motivation_requise'"):
        load_workflow(path)


def test_the_diagram_is_generated_from_states_yaml():
    diagram = mermaid()
    assert "stateDiagram-v2" in diagram
    # Events between the same two states share one arrow, their labels joined by « | »
    # (passer_en_instruction and transmettre_corrections both lead back into instruction).
    arrows: dict[str, list[str]] = {}
    for line in diagram.splitlines():
        arrow, _, labels = line.strip().partition(": ")
        if " --> " in arrow:
            arrows[arrow] = labels.split(" | ")
    for event in FLOW.events.values():
        guards = f" [{' & '.join(event.guards)}]" if event.guards else ""
        for source in event.sources:
            assert f"{event.name}{guards}" in arrows[f"{source} --> {event.dest}"]
