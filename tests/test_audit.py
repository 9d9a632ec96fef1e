"""The audit trail is append-only, and the database itself refuses to rewrite it."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DatabaseError

from workflow.models import AuditEvent
from workflow.plumbing.db import transaction


def one_event(world, session) -> AuditEvent:
    world.deposited()
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
