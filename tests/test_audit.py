"""The audit trail is append-only, and the database itself refuses to rewrite it."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from tests.conftest import at_paris
from workflow.db import transaction
from workflow.models import AuditEvent
from workflow.operations import fire


def one_event(world, session) -> AuditEvent:
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital)
    with time_machine.travel(at_paris(2026, 3, 10), tick=False), transaction(session):
        fire(session, dossier, "deposer", deposant)
    return session.scalars(select(AuditEvent)).one()


def test_an_audit_event_cannot_be_rewritten(world, session):
    event = one_event(world, session)
    with pytest.raises(DatabaseError, match="append-only"), transaction(session):
        session.execute(
            update(AuditEvent).where(AuditEvent.id == event.id).values(to_state="accepte")
        )
    session.expire_all()
    assert session.get(AuditEvent, event.id).to_state == "en_construction"


def test_an_audit_event_cannot_be_deleted(world, session):
    event = one_event(world, session)
    with pytest.raises(DatabaseError, match="append-only"), transaction(session):
        session.execute(delete(AuditEvent).where(AuditEvent.id == event.id))
    assert session.scalars(select(AuditEvent)).one().id == event.id
