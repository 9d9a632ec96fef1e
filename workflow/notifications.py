"""Mails: queued in the outbox inside the transaction of the change, rendered from templates.

Each notification is a pair of templates in mail_templates/: `<name>.txt` holds the subject
and plain-text body blocks, `<name>.html` the HTML body (autoescaped). Mails are rendered
when sent or previewed, from the dossier and the context stored with the outbox row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import clock
from workflow.dates import deadline_text, format_date, format_instant, format_iso_date
from workflow.models import Campaign, Dossier, OutboxMail, User

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "mail_templates"
RECIPIENT_KINDS = ("deposant", "partenaires", "contact_ars")
MESSAGE_ID_DOMAIN = "postes-partages"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def template_exists(name: str) -> bool:
    """Whether both files of a notification template exist."""
    return all((TEMPLATES_DIR / f"{name}.{ext}").is_file() for ext in ("txt", "html"))


@cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.FileSystemLoader(TEMPLATES_DIR)
    filters = {"date_fr": format_date, "instant_fr": format_instant, "iso_date_fr": format_iso_date}
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


def recipients(session: Session, kind: str, dossier: Dossier, campaign: Campaign) -> list[str]:
    """The addresses a mail of `kind` goes to, without duplicates, in a stable order."""
    if kind == "contact_ars":
        return [campaign.contact_email]
    users = session.scalars(
        select(User.email)
        .where(User.organisation_id == dossier.organisation_id, User.active.is_(True))
        .order_by(User.id)
    ).all()
    found = list(users)
    if kind == "partenaires" and dossier.partner_email:
        found.append(dossier.partner_email)
    return list(dict.fromkeys(found))


def new_message_id() -> str:
    """A Message-ID that stays the same across retries of one outbox row."""
    return f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"


def queue(
    session: Session,
    template: str,
    to: list[str],
    *,
    dossier: Dossier | None,
    campaign: Campaign,
    context: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[OutboxMail]:
    """Adds one outbox row per recipient to the current transaction (nothing is sent)."""
    now = now or clock.now()
    mails = [
        OutboxMail(
            template=template,
            recipient=address,
            dossier_id=dossier.id if dossier else None,
            campaign_id=campaign.id,
            context=context or {},
            message_id=new_message_id(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for address in to
    ]
    session.add_all(mails)
    return mails


def render(session: Session, mail: OutboxMail, base_url: str = "") -> RenderedMail:
    """Renders an outbox row from its dossier, campaign and stored context."""
    dossier = session.get(Dossier, mail.dossier_id) if mail.dossier_id else None
    campaign = session.get(Campaign, mail.campaign_id) if mail.campaign_id else None
    context: dict[str, Any] = {
        "dossier": dossier,
        "campaign": campaign,
        "decision": dossier.decision if dossier else None,
        "recipient": mail.recipient,
        "deadline": deadline_text(campaign.deadline_at, campaign.deadline_whole_day)
        if campaign
        else "",
        "base_url": base_url.rstrip("/"),
        **mail.context,
    }
    return render_template(mail.template, context)
