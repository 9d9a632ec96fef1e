"""One event fired on several dossiers an instructor selected (« Passer en instruction » on
the dashboard): each dossier in its own transaction, through `operations.fire`, so that one
refusal or one concurrent change stops only that dossier and is reported with its reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from workflow.machine.operations import fire, load_dossier
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, TransitionRefused, WorkflowError


@dataclass(frozen=True)
class Selected:
    """A dossier ticked on a page, with the version the page showed."""

    dossier_id: int
    expected_version: int | None = None


@dataclass
class Outcome:
    done: list[int] = field(default_factory=list)  # dossier numbers
    refused: list[tuple[int | None, str]] = field(default_factory=list)  # (number, why)


def fire_each(
    session: Session,
    campaign_id: int,
    selected: list[Selected],
    event: str,
    actor: Actor,
    payload: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Fires `event` on each selected dossier of the campaign, one transaction each; a
    dossier of another campaign, or one not deposited yet (a brouillon is its organisation's
    alone), is ignored as if it did not exist."""
    now = now or clock.now()
    outcome = Outcome()
    for item in selected:
        dossier = load_dossier(session, item.dossier_id)
        if dossier is None or dossier.campaign_id != campaign_id or dossier.number is None:
            continue
        number = dossier.number
        try:
            with transaction(session):
                fire(
                    session,
                    dossier,
                    event,
                    actor,
                    payload,
                    expected_version=item.expected_version,
                    now=now,
                )
        except TransitionRefused as refused:
            outcome.refused.append((number, " ".join(refused.reasons)))
        except (ConflictError, WorkflowError) as error:
            outcome.refused.append((number, error.message))
        else:
            outcome.done.append(number or dossier.id)
    return outcome
