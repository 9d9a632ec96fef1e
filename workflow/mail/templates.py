"""Mails rendered from their templates in mail_templates/, when sent or previewed, from the
dossier and the context stored with the outbox row.

What depends on time is computed when the mail is rendered for sending, from the campaign's
current dates and the sending instant, never stored when it was queued: a reminder queued
at J-4 and sent after an SMTP outage at J-1 says « demain », and one queued before an
administrator moved the deadline names the new deadline.

`<name>.txt` holds the subject and plain-text body blocks, `<name>.html` the HTML body
(autoescaped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflow.campaigns.per_dossier import confirmation_window_of, start_date_of
from workflow.campaigns.store import definition_of
from workflow.journal.outbox import TEMPLATES_DIR
from workflow.models import Campaign, Dossier, OutboxMail
from workflow.partners.links import is_partner, partner_link
from workflow.plumbing import clock
from workflow.plumbing.dates import (
    corrections_due_text,
    deadline_text,
    end_instant,
    format_date,
    format_instant,
    format_iso_date,
    latest_day_text,
    time_left,
)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(TEMPLATES_DIR)
    filters = {
        "date_fr": format_date,
        "instant_fr": format_instant,
        "iso_date_fr": format_iso_date,
        "due_fr": corrections_due_text,
    }
    text = jinja2.Environment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    for env in (text, html):
        env.filters.update(filters)
    return text, html


def render_template(name: str, context: dict[str, Any]) -> RenderedMail:
    """Renders the subject, text and HTML of a notification with `context`."""
    text_env, html_env = _environments()
    text_template = text_env.get_template(f"{name}.txt")
    blocks = text_template.new_context(context)
    subject = "".join(text_template.blocks["subject"](blocks)).strip()
    body = "".join(text_template.blocks["body"](text_template.new_context(context))).strip()
    html = html_env.get_template(f"{name}.html").render(context)
    return RenderedMail(" ".join(subject.split()), body + "\n", html)


def render(
    session: Session,
    mail: OutboxMail,
    base_url: str = "",
    now: dt.datetime | None = None,
    *,
    secret_key: str | None = None,
) -> RenderedMail:
    """Renders an outbox row from its dossier, campaign and stored context, as true at `now`
    (the sending instant). With `secret_key`, the copy addressed to the dossier's partner
    carries the partner's personal link (`partner_link`), signed when it leaves."""
    now = now or clock.now()
    dossier = session.get(Dossier, mail.dossier_id) if mail.dossier_id else None
    campaign = session.get(Campaign, mail.campaign_id) if mail.campaign_id else None
    base = base_url.rstrip("/")
    link = None
    if dossier is not None and secret_key and is_partner(dossier, mail.recipient):
        link = partner_link(base, dossier, secret_key)
    context: dict[str, Any] = {
        "dossier": dossier,
        "campaign": campaign,
        "decision": dossier.decision if dossier else None,
        "recipient": mail.recipient,
        "base_url": base,
        "partner_link": link,
        "for_partner": dossier is not None and is_partner(dossier, mail.recipient),
        **mail.context,
        **_timely(session, campaign, dossier, now),
    }
    return render_template(mail.template, context)


def _timely(
    session: Session, campaign: Campaign | None, dossier: Dossier | None, now: dt.datetime
) -> dict:
    """The dates a mail names and the time left to them, as true at `now`: the dossier's own
    start date and maintien window where the mail is about a dossier; and its ARS contact."""
    if campaign is None:
        return {"deadline": ""}
    window_start, window_end = campaign.confirmation_start, campaign.confirmation_end
    start, steps, cosigns = None, ("maintien", "prise_de_poste"), False
    if dossier is not None:
        definition = definition_of(session, dossier.campaign_version_id)
        window_start, window_end = confirmation_window_of(dossier, definition) or (None, None)
        start, steps = start_date_of(dossier, definition), definition.post_decision
        cosigns = definition.cosignature is not None
    contact = (
        (dossier.ars_contact_email if dossier else None)
        or campaign.contact_mailbox
        or campaign.contact_email
    )
    return {
        "deadline": deadline_text(campaign.deadline_at, campaign.deadline_whole_day),
        "time_left": time_left(now, campaign.deadline_at, campaign.deadline_whole_day),
        "window_start": window_start,
        "window_last": window_end,
        "window_end": latest_day_text(window_end) if window_end else "",
        "window_left": time_left(now, end_instant(window_end), True) if window_end else "",
        "start_date": start,
        "steps": steps,
        "campaign_cosigns": cosigns,
        "contact_ars": contact,
        "rules_text": _rules_text(campaign, dossier),
    }


def load_for_rendering(session: Session, mails: Sequence[OutboxMail]) -> list[object]:
    """Loads the dossiers (with their decisions and form versions) and campaigns of many
    mails in four queries, so that `render` finds them in the session instead of querying
    once per mail.

    The caller keeps the returned objects while rendering: the session's identity map holds
    its objects weakly and would let unreferenced ones go.
    """
    loaded: list[object] = []
    dossier_ids = {m.dossier_id for m in mails if m.dossier_id}
    campaign_ids = {m.campaign_id for m in mails if m.campaign_id}
    if dossier_ids:
        query = select(Dossier).where(Dossier.id.in_(dossier_ids))
        options = (selectinload(Dossier.decision), selectinload(Dossier.campaign_version))
        loaded += session.scalars(query.options(*options)).all()
    if campaign_ids:
        loaded += session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids))).all()
    return loaded


def _rules_text(campaign: Campaign, dossier: Dossier | None) -> str:
    """The campaign's own warning about incomplete or late dossiers, as the dossier's version
    of the form says it (the campaign's latest version for a mail about no dossier)."""
    if dossier is not None:
        definition = dossier.campaign_version.definition
    else:
        definition = campaign.versions[-1].definition if campaign.versions else {}
    return str(definition.get("rules_text") or "")
