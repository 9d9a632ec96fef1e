"""Instants of campaigns: stored in UTC, shown and reasoned about in Europe/Paris."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def start_instant(value: dt.date | dt.datetime) -> dt.datetime:
    """The UTC instant a campaign date opens: midnight in Paris for a plain date."""
    if isinstance(value, dt.datetime):
        return _paris(value).astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(), PARIS).astimezone(dt.UTC)


def end_instant(value: dt.date | dt.datetime) -> dt.datetime:
    """The UTC instant from which a deadline has passed.

    "Jusqu'au 20 mars 2019 inclus" allows 23:59:59 Paris time that day, so it ends at the next
    midnight in Paris (computed in local time, so daylight-saving changes fall right); a
    deadline given with a time ends at that time.
    """
    if isinstance(value, dt.datetime):
        return _paris(value).astimezone(dt.UTC)
    next_day = value + dt.timedelta(days=1)
    return dt.datetime.combine(next_day, dt.time(), PARIS).astimezone(dt.UTC)


def _paris(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=PARIS) if value.tzinfo is None else value


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for stored UTC instants; makes them aware again."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def paris_date(value: dt.datetime) -> dt.date:
    """The calendar day in Paris of a UTC instant."""
    return as_utc(value).astimezone(PARIS).date()


def format_date(value: dt.date) -> str:
    """The day as "20 mars 2019"; the first of the month reads "1er"."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def format_instant(value: dt.datetime | str) -> str:
    """The instant as "20 mars 2019 à 23h59", Paris time; reads ISO strings (from JSON)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    local = as_utc(value).astimezone(PARIS)
    return f"{format_date(local.date())} à {local:%H}h{local:%M}"


def deadline_text(deadline_at: dt.datetime, whole_day: bool) -> str:
    """A stored deadline as the manuals write it: "jusqu'au 20 mars 2019 inclus" when it is a
    day (stored as the next midnight), or "jusqu'au 14 février 2025 à 12h00"."""
    if whole_day:
        return f"jusqu'au {format_date(paris_date(deadline_at - dt.timedelta(seconds=1)))} inclus"
    return f"jusqu'au {format_instant(deadline_at)}"


def format_iso_date(value: str) -> str:
    """An ISO date such as "2019-11-02" as "2 novembre 2019"."""
    return format_date(dt.date.fromisoformat(value))


def format_hour(value: dt.datetime) -> str:
    """The Paris hour of an instant as the manuals write it: "12h", "18h30"."""
    local = as_utc(value).astimezone(PARIS)
    return f"{local:%H}h" if local.minute == 0 else f"{local:%H}h{local:%M}"


def time_left(now: dt.datetime, deadline_at: dt.datetime, whole_day: bool) -> str:
    """The time left from `now` to a stored deadline, as a reminder says it after "clôture":
    "aujourd'hui à 23h59", "demain", "dans 4 jours" for a whole day (stored as the next
    midnight); "aujourd'hui à 12h", "demain à 12h", "dans 4 jours, le 14 février 2025 à 12h"
    for a deadline with its own hour. Counted in Paris calendar days, so a reminder sent
    late (or retried after an SMTP outage) says what is true when it leaves. Empty once the
    deadline has passed.
    """
    end = as_utc(deadline_at)
    if end <= as_utc(now):
        return ""
    last = paris_date(end - dt.timedelta(seconds=1)) if whole_day else paris_date(end)
    days = (last - paris_date(now)).days
    if whole_day:
        if days == 0:
            return "aujourd'hui à 23h59"
        return "demain" if days == 1 else f"dans {days} jours"
    hour = format_hour(end)
    if days == 0:
        return f"aujourd'hui à {hour}"
    if days == 1:
        return f"demain à {hour}"
    return f"dans {days} jours, le {format_date(last)} à {hour}"


def latest_day_text(last_day: dt.date) -> str:
    """An inclusive last day, as "au plus tard le 31 octobre 2026" (never "avant le", which
    would exclude it)."""
    return f"au plus tard le {format_date(last_day)}"


def due_day(due_at: dt.datetime) -> dt.date:
    """The last day, in Paris, of a due date stored as its end (`end_instant`): corrections
    due « jusqu'au 15 décembre 2026 inclus » are stored as 16 December, 00:00 Paris time."""
    return paris_date(due_at - dt.timedelta(seconds=1))


def corrections_due_text(due_at: dt.datetime) -> str:
    """The due date of corrections, the one way every page and mail writes it: "jusqu'au 15
    décembre 2026 inclus" (the guard checks a day; the déposant may edit until 23:59:59
    that day, Paris time, and the scheduler moves the dossier at the next midnight)."""
    return f"jusqu'au {format_date(due_day(due_at))} inclus"
