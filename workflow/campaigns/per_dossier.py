"""What a campaign's after-decision terms (`after_decision`) mean for one dossier: its start
date, its maintien window, its ARS contact. Pages, guards, sweeps and mails ask here, so that
each of these is decided in one place."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from workflow.campaigns.completeness import lookup, shift

if TYPE_CHECKING:
    from workflow.campaigns.schema import Campaign as Definition
    from workflow.models import Dossier


def start_date_of(dossier: Dossier, definition: Definition) -> dt.date | None:
    """The day from which the dossier's candidate takes the post: the answer of the field the
    campaign names (`start_date:`), else the campaign's earliest start date. The prise de
    poste is asked and confirmed from it, the maintien window follows it, and every mail that
    names it says this one."""
    source = definition.start_date
    if source is not None:
        chosen = source.day_for(lookup(dossier.values or {}, source.field))
        if chosen is not None:
            return chosen
    return _campaign_start(dossier)


def _campaign_start(dossier: Dossier) -> dt.date | None:
    # The campaign row's dates, which an administrator may move, not the file's.
    dates = (dt.date.fromisoformat(day) for day in dossier.campaign.start_dates or ())
    return min(dates, default=None)


def confirmation_window_of(
    dossier: Dossier, definition: Definition
) -> tuple[dt.date, dt.date] | None:
    """The days in which the déposant confirms the maintien of this dossier's recruitment:
    the campaign's window, moved by as many months as the dossier's start date lies after
    the campaign's earliest one (the IdF manuals: « en octobre le maintien du projet de
    recrutement et à partir du 02 novembre la prise de poste »: the window keeps its place
    before the start). None when the campaign has no window or no maintien step."""
    campaign = dossier.campaign
    start, end = campaign.confirmation_start, campaign.confirmation_end
    if start is None or end is None or "maintien" not in definition.post_decision:
        return None
    first, own = _campaign_start(dossier), start_date_of(dossier, definition)
    if first is None or own is None or own == first:
        return start, end
    months = (own.year - first.year) * 12 + (own.month - first.month)
    return shift(start, months=months), shift(end, months=months)


def ars_contact_of(definition: Definition, values: dict[str, Any]) -> str | None:
    """The address of the person at the ARS who follows this dossier, chosen by the answer of
    the campaign's field (None when the campaign chooses none or the field is empty)."""
    contact = definition.ars_contact
    if contact is None or contact.field is None:
        return None
    value = lookup(values, contact.field)
    return contact.by_value.get(str(value)) if value not in (None, "") else None
