"""The dossier state machine, built once from states.yaml.

One static `transitions` machine serves every dossier (model=None): an event is fired with
`machine.events[name].trigger(firing)`, so firing never constructs a machine nor registers a
model (pytransitions issue #434: one machine per object costs seconds per 100,000).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from transitions import EventData, Machine

from workflow.campaigns.schema import Campaign as Definition
from workflow.journal.outbox import RECIPIENT_KINDS, template_exists
from workflow.machine import effects, guards
from workflow.machine.firing import Firing
from workflow.machine.spec import EventSpec, MailSpec

STATES_FILE = Path(__file__).resolve().parents[2] / "states.yaml"


@dataclass(frozen=True)
class Workflow:
    initial: str
    state_labels: dict[str, str]
    events: dict[str, EventSpec]
    machine: Machine

    def events_from(self, state: str) -> list[EventSpec]:
        """The events that leave `state`, in the order of states.yaml."""
        return [e for e in self.events.values() if state in e.sources]


class StatesFileError(Exception):
    """states.yaml names something that does not exist."""


def load_workflow(path: Path = STATES_FILE) -> Workflow:
    """Reads and checks states.yaml and builds the machine."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    labels = {name: spec["label"] for name, spec in data["states"].items()}
    events = {name: _event(name, spec) for name, spec in data["events"].items()}
    _check(path, data["initial"], labels, events)
    machine = Machine(
        model=None,
        states=list(labels),
        initial=data["initial"],
        auto_transitions=False,
        send_event=True,
        model_attribute="state",
    )
    for event in events.values():
        machine.add_transition(
            event.name,
            source=list(event.sources),
            dest=event.dest,
            conditions=_guards_hold,
            after=_apply_effects,
        )
    return Workflow(data["initial"], labels, events, machine)


def guards_hold(firing: Firing) -> bool:
    """Runs every guard of the event being fired and keeps all their reasons in
    `firing.reasons`, so the user learns everything that is missing at once rather than one
    thing per attempt."""
    for name in firing.spec.guards:
        found = guards.REGISTRY[name](firing)
        firing.reasons += [found] if isinstance(found, str) else list(found or [])
    return not firing.reasons


def _guards_hold(event_data: EventData) -> bool:
    return guards_hold(event_data.model)


def _apply_effects(event_data: EventData) -> None:
    """Runs the event's effects, in the order of states.yaml, after the state is set."""
    firing: Firing = event_data.model
    for name in firing.spec.effects:
        effects.REGISTRY[name](firing)


@cache
def workflow() -> Workflow:
    """The process-wide workflow, built on first use."""
    return load_workflow()


def _event(name: str, spec: dict[str, Any]) -> EventSpec:
    return EventSpec(
        name=name,
        label=spec["label"],
        sources=tuple(spec["from"]),
        dest=spec["to"],
        who=tuple(spec["who"]),
        guards=tuple(spec.get("guards") or ()),
        effects=tuple(spec.get("effects") or ()),
        mails=tuple(MailSpec(**mail) for mail in spec.get("mails") or ()),
    )


def _check(path: Path, initial: str, labels: dict[str, str], events: dict[str, EventSpec]):
    problems: list[str] = []
    if initial not in labels:
        problems.append(f"initial state '{initial}' is not a state")
    for event in events.values():
        for state in (*event.sources, event.dest):
            if state not in labels:
                problems.append(f"{event.name}: unknown state '{state}'")
        problems += [
            f"{event.name}: unknown guard '{g}'" for g in event.guards if g not in guards.REGISTRY
        ]
        problems += [
            f"{event.name}: unknown effect '{e}'"
            for e in event.effects
            if e not in effects.REGISTRY
        ]
        for mail in event.mails:
            if not template_exists(mail.template):
                problems.append(f"{event.name}: no mail template '{mail.template}'")
            if mail.to not in RECIPIENT_KINDS:
                problems.append(f"{event.name}: unknown recipients '{mail.to}'")
    if problems:
        raise StatesFileError(f"{path}: " + "; ".join(problems))


def for_campaign(definition: Definition, flow: Workflow | None = None) -> Workflow:
    """The machine as one campaign's dossiers go through it, for its drawing: without the
    steps after the decision the campaign does not have (`post_decision`; the AUMG manual
    ends at the decision) and the states only they reach. Never used to fire."""
    flow = flow or workflow()
    kept = [
        e for e in flow.events.values() if guards.step_missing_reason(e.name, definition) is None
    ]
    reached = {flow.initial}
    while True:
        more = {e.dest for e in kept if reached.intersection(e.sources)} - reached
        if not more:
            break
        reached |= more
    events = {
        e.name: replace(e, sources=tuple(s for s in e.sources if s in reached))
        for e in kept
        if reached.intersection(e.sources)
    }
    labels = {state: label for state, label in flow.state_labels.items() if state in reached}
    return Workflow(flow.initial, labels, events, flow.machine)


def mermaid(flow: Workflow | None = None) -> str:
    """A Mermaid state diagram drawn by transitions' GraphMachine from the same states.yaml,
    guards shown as conditions. Generated on demand, never used at run time."""
    from transitions.extensions.diagrams import GraphMachine

    flow = flow or workflow()
    drawn = type("Dossier", (), {})()
    GraphMachine(
        model=drawn,
        states=list(flow.state_labels),
        initial=flow.initial,
        transitions=[
            {
                "trigger": e.name,
                "source": list(e.sources),
                "dest": e.dest,
                **({"conditions": list(e.guards)} if e.guards else {}),
            }
            for e in flow.events.values()
        ],
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title="Dossier",
    )
    return drawn.get_graph().draw(None)
