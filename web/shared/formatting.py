"""Jinja filters: dates, instants, durations, sizes and phone numbers as French readers
expect them, and the labels of states."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from workflow.machine.guards import campaign_open_reason
from workflow.machine.states import workflow
from workflow.models import Campaign
from workflow.plumbing import clock
from workflow.plumbing.dates import (
    as_utc,
    corrections_due_text,
    deadline_text,
    format_date,
    format_instant,
)
from workflow.plumbing.identifiers import format_phone_fr


def campaign_status(campaign: Campaign, now: dt.datetime) -> str:
    """ "Ouverte", "À venir" or "Close", as the ARS pages show a campaign."""
    if campaign_open_reason(campaign, now) is None:
        return "Ouverte"
    return "À venir" if now < as_utc(campaign.opens_at) else "Close"


def date_fr(value: dt.date | str | None) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value)


def instant_fr(value: dt.datetime | None) -> str:
    return format_instant(value) if value else ""


def time_left(deadline: dt.datetime, now: dt.datetime | None = None) -> str:
    """ "il reste 12 jours", "il reste 5 h 20 min", or that the deadline has passed."""
    left = as_utc(deadline) - (now or clock.now())
    if left <= dt.timedelta(0):
        return "la date limite est passée"
    days = left.days
    if days >= 2:
        return f"il reste {days} jours"
    hours, seconds = divmod(int(left.total_seconds()), 3600)
    minutes = seconds // 60
    if hours:
        return f"il reste {hours} h {minutes:02d} min"
    return f"il reste {max(minutes, 1)} min"


def size_fr(size: int) -> str:
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} Ko"
    return f"{size / 1024 / 1024:.1f} Mo".replace(".", ",")


def phone_fr(value: str | None) -> str:
    return format_phone_fr(value) if value else ""


def due_fr(value: dt.datetime | None) -> str:
    """A corrections' due date as every page and mail writes it: "jusqu'au 15 décembre 2026
    inclus"."""
    return corrections_due_text(value) if value else ""


def state_label(state: str) -> str:
    return workflow().state_labels.get(state, state)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        date_fr=date_fr,
        instant_fr=instant_fr,
        time_left=time_left,
        size_fr=size_fr,
        phone_fr=phone_fr,
        state_label=state_label,
        due_fr=due_fr,
    )
    app.jinja_env.globals.update(deadline_text=deadline_text)
