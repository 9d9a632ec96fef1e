"""The commission's procès-verbal as a PDF: members present, then each group with its funded
posts and its dossiers (rank, number, organisation, candidate, opinion, mean score,
decision). It renders any object shaped like `Minutes` below, so the commission's own
`minutes_of(...)` result is printed as it is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from workflow.documents.pdf import render_pdf
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date


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


def render_minutes(minutes: Minutes) -> bytes:
    """The procès-verbal of `minutes` as a PDF, dated the day it is generated (Paris)."""
    return render_pdf(
        "proces_verbal.html",
        minutes=minutes,
        score=score,
        generated=paris_date(clock.now()),
    )
