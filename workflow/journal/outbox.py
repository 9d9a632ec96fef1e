"""The outbox: mails queued inside the transaction of the change that causes them.

A row names its template, its recipient and the context that the template will need; the
mail package renders and sends it later (`workflow.mail`), so a change that is rolled back
sends nothing. Each notification is a pair of templates in mail_templates/: `<name>.txt`
(subject and plain-text body blocks) and `<name>.html`; the machine checks at load that
every template states.yaml names exists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Select, String, bindparam, cast, insert, literal, or_, select, union_all
from sqlalchemy.orm import Session

from workflow.models import Campaign, CampaignInstructor, Dossier, OutboxMail, User
from workflow.models.base import JSONValue, UTCDateTime

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "mail_templates"
RECIPIENT_KINDS = ("deposant", "partenaires", "contact_ars", "instructeurs")
MESSAGE_ID_DOMAIN = "postes-partages"


def template_exists(name: str) -> bool:
    """Whether both files of a notification template exist."""
    return all((TEMPLATES_DIR / f"{name}.{ext}").is_file() for ext in ("txt", "html"))


OUTBOX_COLUMNS = [
    "template",
    "recipient",
    "dossier_id",
    "campaign_id",
    "context",
    "message_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "attachments",
]


class Mail(Protocol):
    template: str
    to: str
    attach: str | None


def mail_rows(mails: Sequence[Mail], dossiers: Any) -> list[Select]:
    """SELECTs of outbox rows, one per mail and recipient, for every dossier row of
    `dossiers` (a subquery or CTE with id, campaign_id, organisation_id, partner_email).

    The same statements queue the mails of one transition and of a campaign closing, so who
    receives what is decided in one place: "deposant" is every active user of the dossier's
    organisation, "partenaires" adds the partner's address, "contact_ars" is the dossier's ARS
    contact (`_ars_contact_rows`), "instructeurs" every active instructeur following the
    campaign. Execute them with `mail_parameters(...)`.
    """
    users = User.__table__
    selects: list[Select] = []
    for index, mail in enumerate(mails):
        row = _MailRow(mail.template, index, dossiers, _attachments(mail))
        if mail.to in ("deposant", "partenaires"):
            joined = dossiers.join(users, users.c.organisation_id == dossiers.c.organisation_id)
            selects.append(row(users.c.email, users.c.id, joined, users.c.active.is_(True)))
        if mail.to == "partenaires":
            partner = dossiers.c.partner_email
            selects.append(row(partner, literal("p", String), dossiers, partner.is_not(None)))
        if mail.to == "contact_ars":
            selects += _ars_contact_rows(row, dossiers)
        if mail.to == "instructeurs":
            followers = CampaignInstructor.__table__
            joined = dossiers.join(
                followers, followers.c.campaign_id == dossiers.c.campaign_id
            ).join(users, users.c.id == followers.c.user_id)
            selects.append(row(users.c.email, users.c.id, joined, users.c.active.is_(True)))
    return selects


def _ars_contact_rows(row: _MailRow, dossiers: Any) -> list[Select]:
    """The dossier's ARS contacts: the person its field chooses (Normandie ASP: the
    subdivision's) and the campaign's functional mailbox, each where there is one; else the
    campaign's first contact. The person is read from the dossiers table itself, so that
    every caller's subquery keeps its four columns."""
    campaigns = Campaign.__table__
    own = Dossier.__table__.alias("own")
    joined = dossiers.join(campaigns, campaigns.c.id == dossiers.c.campaign_id).join(
        own, own.c.id == dossiers.c.id
    )
    person, mailbox = own.c.ars_contact_email, campaigns.c.contact_mailbox
    return [
        row(person, literal("a", String), joined, person.is_not(None)),
        row(
            mailbox,
            literal("m", String),
            joined,
            mailbox.is_not(None),
            or_(person.is_(None), mailbox != person),
        ),
        row(
            campaigns.c.contact_email,
            literal("c", String),
            joined,
            person.is_(None),
            mailbox.is_(None),
        ),
    ]


def mail_parameters(now: dt.datetime, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of the statements of `mail_rows`; a fresh token per call keeps every
    Message-ID unique (token, mail, dossier, recipient) and stable across retries."""
    return {"mail_now": now, "mail_context": context or {}, "mail_token": uuid.uuid4().hex}


def _attachments(mail: Mail) -> tuple[str, ...]:
    attach = getattr(mail, "attach", None)
    return (attach,) if attach else ()


@dataclass(frozen=True)
class _MailRow:
    template: str
    index: int
    dossiers: Any
    attachments: tuple[str, ...] = ()

    def __call__(self, recipient: Any, who: Any, from_: Any, *where: Any) -> Select:
        dossiers = self.dossiers
        message_id = (
            literal("<", String)
            + bindparam("mail_token", type_=String)
            + literal(f".{self.index}.", String)
            + cast(dossiers.c.id, String)
            + literal(".", String)
            + cast(who, String)
            + literal(f"@{MESSAGE_ID_DOMAIN}>", String)
        )
        instant = bindparam("mail_now", type_=UTCDateTime())
        return (
            select(
                literal(self.template, String),
                recipient,
                dossiers.c.id,
                dossiers.c.campaign_id,
                bindparam("mail_context", type_=JSONValue),
                message_id,
                literal("pending", String),
                literal(0),
                instant,
                instant,
                literal(list(self.attachments), JSONValue),
            )
            .select_from(from_)
            .where(*where)
        )


def queue_for_dossier(
    session: Session,
    mails: Sequence[Mail],
    dossier_id: int,
    now: dt.datetime,
    context: dict[str, Any] | None = None,
) -> None:
    """Queues the mails of one dossier's transition: one INSERT ... SELECT, no round trip
    to read the recipients first."""
    if mails:
        statement = _queue_statement(
            tuple((m.template, m.to, getattr(m, "attach", None)) for m in mails)
        )
        parameters = {"dossier_id": dossier_id, **mail_parameters(now, context)}
        session.connection().execute(statement, parameters)


@dataclass(frozen=True)
class MailTo:
    """A mail as `mail_rows` needs it: its template and its recipients' kind."""

    template: str
    to: str
    attach: str | None = None


@cache
def _queue_statement(mails: tuple[tuple[str, str, str | None], ...]) -> Any:
    """Built once per list of mails: constructing the statement costs more than running it."""
    table = Dossier.__table__
    one = (
        select(table.c.id, table.c.campaign_id, table.c.organisation_id, table.c.partner_email)
        .where(table.c.id == bindparam("dossier_id"))
        .subquery()
    )
    rows = mail_rows([MailTo(*mail) for mail in mails], one)
    return insert(OutboxMail.__table__).from_select(OUTBOX_COLUMNS, union_all(*rows))


def queue(
    session: Session,
    template: str,
    to: Sequence[str],
    *,
    dossier: Dossier | None = None,
    campaign: Campaign | None = None,
    context: dict[str, Any] | None = None,
    now: dt.datetime,
) -> int:
    """Adds one outbox row per address to the current transaction, for mails that are not a
    dossier's transition (account confirmation, reminders); returns how many."""
    rows = [
        {
            "template": template,
            "recipient": address,
            "dossier_id": dossier.id if dossier else None,
            "campaign_id": campaign.id if campaign else (dossier.campaign_id if dossier else None),
            "context": context or {},
            "message_id": f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for address in dict.fromkeys(to)
    ]
    if rows:
        session.connection().execute(insert(OutboxMail.__table__), rows)
    return len(rows)
