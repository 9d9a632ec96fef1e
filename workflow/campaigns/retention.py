"""How long a campaign's personal data is kept (`retention:` in a campaign file), and the day
it expires.

The seeds say how long in words, never in a number: Normandie ASP 2025 « Vos données sont
conservées pendant la durée de votre contrat », Normandie ASR 2026 « le temps de la gestion
des dossiers de candidatures d'ASR et de financement des établissements employeurs ». The
posts they fund are two-year posts, and the CNIL's guidance for recruitment keeps the data of
a candidate not recruited at most two years after the last contact.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Assumption: two years from the campaign's last start date (else its deadline) covers both
# the two-year contract of a recruited candidate and the CNIL's two years for the others,
# whose last contact (the decision) comes before the start date.
DEFAULT_YEARS = 2


class Retention(BaseModel):
    """`retention: {years: 2, months: 0, since: start_date}`: the personal data of the
    campaign's dossiers is purged that long after the campaign's last start date (`since:
    start_date`, its deadline when it has none) or after its deadline (`since: deadline`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: int = Field(default=DEFAULT_YEARS, ge=0, le=10)
    months: int = Field(default=0, ge=0, le=11)
    since: Literal["start_date", "deadline"] = "start_date"

    def describe(self) -> str:
        """« 2 ans après la date de prise de poste », as the privacy page reads it."""
        parts = []
        if self.years:
            parts.append(f"{self.years} an{'s' if self.years > 1 else ''}")
        if self.months:
            parts.append(f"{self.months} mois")
        duration = " et ".join(parts) or "aucune durée"
        since = (
            "la date de prise de poste (ou, à défaut, la date limite de dépôt)"
            if self.since == "start_date"
            else "la date limite de dépôt"
        )
        return f"{duration} après {since}"


DEFAULT = Retention()


def _add(day: dt.date, years: int, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + years + index // 12, index % 12 + 1
    # 29 February plus a year, or the 31st plus a month: that month's last day.
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expires_on(
    retention: Retention | None, start_dates: tuple[dt.date, ...], deadline_day: dt.date
) -> dt.date:
    """The first day on which the campaign's personal data is no longer kept."""
    policy = retention or DEFAULT
    since = deadline_day
    if policy.since == "start_date" and start_dates:
        since = max(start_dates)
    return _add(since, policy.years, policy.months)
