"""The commission's procès-verbal as a PDF: members present, then each group with its funded
posts and its dossiers (rank, number, organisation, candidate, opinion, mean score,
decision). It renders any object shaped like `Minutes` below, so the commission's own
`minutes_of(...)` result is printed as it is."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from workflow.documents.archive import archive, archived
from workflow.documents.pdf import html_to_pdf, render_html
from workflow.journal.audit import Author
from workflow.models import ArchivedDocument
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.storage import FileStore

KIND = "proces_verbal"


class MinutesRow(Protocol):
    """One dossier as the commission examined it."""

    @property
    def number(self) -> str: ...
    @property
    def organisation(self) -> str: ...
    @property
    def candidate(self) -> str: ...
    @property
    def opinion(self) -> str: ...
    @property
    def rank(self) -> int | None: ...
    @property
    def mean_score(self) -> float | None: ...
    @property
    def decision(self) -> str: ...


class MinutesGroup(Protocol):
    """A group of dossiers ranked against its funded posts."""

    @property
    def label(self) -> str: ...
    @property
    def funded_posts(self) -> int: ...
    @property
    def rows(self) -> Sequence[MinutesRow]: ...


class Minutes(Protocol):
    """What a procès-verbal says of one commission session."""

    @property
    def campaign_title(self) -> str: ...
    @property
    def held_on(self) -> dt.date: ...
    @property
    def title(self) -> str: ...
    @property
    def members_present(self) -> Sequence[str]: ...
    @property
    def groups(self) -> Sequence[MinutesGroup]: ...


def score(value: float | None) -> str:
    """A mean score the French way: « 14,25 », or « — » when nobody scored."""
    if value is None:
        return "—"
    return f"{value:.2f}".replace(".", ",")


def _html(minutes: Minutes) -> str:
    return render_html(
        "proces_verbal.html", minutes=minutes, score=score, generated=paris_date(clock.now())
    )


def render_minutes(minutes: Minutes) -> bytes:
    """The procès-verbal of `minutes` as a PDF, dated the day it is generated (Paris)."""
    return html_to_pdf(_html(minutes))


def minutes_document(
    session: Session,
    storage: FileStore,
    minutes: Minutes,
    *,
    campaign_id: int,
    commission_session_id: int,
    actor: Author,
    now: dt.datetime,
) -> ArchivedDocument:
    """The archived procès-verbal of a commission session, for a download or a mail: stored
    once per content (the same minutes downloaded twice the same day are the same bytes; a
    session whose rows changed gets a new document), its SHA-256 in the audit trail. Call
    inside a write transaction."""
    html = _html(minutes)
    digest = hashlib.sha256(html.encode("utf-8")).hexdigest()[:16]
    reference = f"session:{commission_session_id}:{digest}"
    found = archived(session, KIND, reference)
    if found is not None:
        return found
    return archive(
        session,
        storage,
        kind=KIND,
        reference=reference,
        campaign_id=campaign_id,
        dossier_id=None,
        filename=f"proces-verbal-seance-{commission_session_id}.pdf",
        data=html_to_pdf(html),
        actor=actor,
        now=now,
    )
