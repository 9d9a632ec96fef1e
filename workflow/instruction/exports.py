"""Exports of a campaign for the ARS: one row per dossier, one column per field of every
volet, with its state, decision and dates, as CSV (for any tool) or XLSX (for Excel).

Every text in an export was typed by someone outside the ARS (a déposant, a partner, an
administrator's campaign file). A spreadsheet runs a cell that looks like a formula
(`=HYPERLINK(...)`, `+cmd|...`), so no text ever reaches a spreadsheet as one: the CSV
neutralises it as OWASP recommends, the XLSX writes it as a string cell. Numbers and dates
keep their types.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import Column, FieldDef, FieldType
from workflow.campaigns.store import definition_of
from workflow.instruction.deposited import DEPOSITED
from workflow.machine.states import workflow
from workflow.models import Avis, CampaignVersion, Dossier, Organisation
from workflow.plumbing.dates import PARIS, as_utc

VERDICTS = {"favorable": "Favorable", "defavorable": "Défavorable"}
DECISIONS = {"accepte": "Accepté", "refuse": "Refusé", "sans_suite": "Classé sans suite"}
FIXED = (
    "N° de dossier",
    "Organisation",
    "FINESS",
    "SIRET",
    "Ordre de priorité",
    "État",
    "Déposé le",
    "Décision",
    "Motivation",
    "Décision publiée le",
    "Version du formulaire",
)


@dataclass(frozen=True)
class _Column:
    volet: str
    field: str
    header: str


def export_rows(session: Session, campaign_id: int) -> Iterator[list[Any]]:
    """The header, then one row per dossier in number order; values are typed (numbers,
    dates) so that a spreadsheet sorts and sums them."""
    versions = dict(
        session.execute(
            select(CampaignVersion.id, CampaignVersion.version)
            .where(CampaignVersion.campaign_id == campaign_id)
            .order_by(CampaignVersion.version.desc())
        ).all()
    )
    definitions = {vid: definition_of(session, vid) for vid in versions}
    columns = _columns(list(definitions.values()))
    avis_columns = _avis_columns(list(definitions.values()))
    avis_headers = [f"Avis {label} — {part}" for _, label in avis_columns for part in AVIS_PARTS]
    yield [*FIXED, *(c.header for c in columns), *avis_headers]
    labels = workflow().state_labels
    dossiers = session.scalars(
        select(Dossier)
        .options(joinedload(Dossier.organisation), joinedload(Dossier.decision))
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Dossier.number)
    )
    avis = _avis_by_dossier(session, campaign_id) if avis_columns else {}
    for dossier in dossiers:
        definition = definitions[dossier.campaign_version_id]
        organisation: Organisation = dossier.organisation
        decision = dossier.decision
        row: list[Any] = [
            dossier.number,
            organisation.name,
            organisation.finess,
            organisation.siret,
            dossier.priority,
            labels[dossier.state],
            _local(dossier.deposited_at),
            DECISIONS[decision.kind] if decision else None,
            decision.motivation if decision else None,
            _local(decision.published_at) if decision else None,
            versions[dossier.campaign_version_id],
        ]
        values = dossier.values or {}
        for column in columns:
            row.append(_cell(definition, column, values))
        given = avis.get(dossier.id, {})
        for key, _ in avis_columns:
            row += _avis_cells(given.get(key))
        yield row


# One column group per avis of the campaign: what was answered, when, and by whom.
AVIS_PARTS = ("verdict", "date", "donné par")


def _avis_columns(definitions: list[Definition]) -> list[tuple[str, str]]:
    """The (key, label) of every avis any version asks for, the newest version's order
    first."""
    seen: dict[str, str] = {}
    for definition in definitions:
        for avis in definition.avis:
            seen.setdefault(avis.key, avis.label)
    return list(seen.items())


def _avis_by_dossier(session: Session, campaign_id: int) -> dict[int, dict[str, Avis]]:
    """The avis of each deposited dossier of the campaign, by key: the one given last, or
    else the last one asked (an avis asked again replaces the first request)."""
    rows = session.scalars(
        select(Avis)
        .join(Dossier, Dossier.id == Avis.dossier_id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Avis.given_at.is_not(None), Avis.given_at, Avis.invited_at, Avis.id)
    )
    found: dict[int, dict[str, Avis]] = {}
    for avis in rows:
        found.setdefault(avis.dossier_id, {})[avis.avis_key] = avis
    return found


def _avis_cells(avis: Avis | None) -> list[Any]:
    if avis is None:
        return [None, None, None]
    if avis.verdict is None:
        return ["En attente", None, avis.giver_name or avis.giver_email]
    giver = avis.giver_name or avis.giver_email
    return [VERDICTS.get(avis.verdict, avis.verdict), _local(avis.given_at), giver]


def _columns(definitions: list[Definition]) -> list[_Column]:
    """Every field of every version (the newest first decides the order); a field that only
    an older version had comes after its volet's other fields."""
    seen: dict[tuple[str, str], _Column] = {}
    for definition in definitions:
        for volet in definition.volets:
            for field in volet.fields:
                key = (volet.key, field.key)
                if key not in seen:
                    seen[key] = _Column(volet.key, field.key, f"{volet.title} — {field.label}")
    order = {v.key: i for d in definitions for i, v in enumerate(d.volets)}
    return sorted(seen.values(), key=lambda c: order.get(c.volet, len(order)))


def _cell(definition: Definition, column: _Column, values: dict[str, Any]) -> Any:
    value = (values.get(column.volet) or {}).get(column.field)
    if value is None:
        return None
    try:
        field = definition.field(f"{column.volet}.{column.field}")
    except StopIteration:
        return str(value)  # a field of another version of the form
    return _readable(field, value)


def _readable(field: FieldDef | Column, value: Any) -> Any:
    """A stored value as a person reads it; repeated rows become one line each."""
    kind = field.type
    if kind is FieldType.TABLE and isinstance(field, FieldDef):
        lines = []
        for row in value:
            cells = [
                f"{c.label} : {_text(_readable(c, row.get(c.key)))}"
                for c in field.columns
                if row.get(c.key) not in (None, "")
            ]
            lines.append(" ; ".join(cells))
        return "\n".join(lines)
    if kind is FieldType.DATE:
        return dt.date.fromisoformat(value)
    if kind is FieldType.YES_NO:
        return "Oui" if value else "Non"
    labels = {c.value: c.label for c in field.choices}
    if kind is FieldType.CHOICE:
        return labels.get(value, value)
    if kind is FieldType.MULTI_CHOICE:
        return " ; ".join(labels.get(v, v) for v in value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return "" if value is None else str(value)


def _local(instant: dt.datetime | None) -> dt.datetime | None:
    """Spreadsheets know no time zones: instants are written in Paris time."""
    if instant is None:
        return None
    return as_utc(instant).astimezone(PARIS).replace(tzinfo=None)


def export_csv(session: Session, campaign_id: int) -> bytes:
    """CSV in UTF-8 with a BOM and semicolons, as French Excel opens it without a wizard."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for row in export_rows(session, campaign_id):
        writer.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str):
        return neutralised(value)
    return value


# OWASP's CSV injection list: what a spreadsheet takes as the start of a formula or a DDE call.
FORMULA_STARTS = frozenset("=+-@\t\r")
# Characters an XLSX file cannot hold at all (openpyxl refuses to write them).
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
XLSX_MAX_TEXT = 32767


def neutralised(text: str) -> str:
    """A CSV text cell that no spreadsheet runs: one starting with `=`, `+`, `-`, `@`, a tab
    or a carriage return — also after leading spaces or line breaks, because LibreOffice and
    some CSV importers trim those before deciding — gets a leading single quote, which
    spreadsheets show as text and never evaluate. Other texts are unchanged."""
    if text[:1] in FORMULA_STARTS or text.lstrip()[:1] in FORMULA_STARTS:
        return "'" + text
    return text


def _xlsx_text(text: str) -> str:
    return _NOT_IN_XLSX.sub("", text)[:XLSX_MAX_TEXT]


def export_xlsx(session: Session, campaign_id: int, title: str = "Dossiers") -> bytes:
    """An Excel workbook with a frozen, bold header row and dates as dates; every text is a
    string cell, never a formula, whatever it starts with."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    for index, row in enumerate(export_rows(session, campaign_id)):
        sheet.append([_xlsx_text(v) if isinstance(v, str) else v for v in row])
        for cell in sheet[sheet.max_row]:
            # openpyxl makes a formula of any text starting with "=" (and an error value of
            # "#N/A"…): the cell is told it holds a string.
            if isinstance(cell.value, str):
                cell.data_type = "s"
        if index == 0:
            for cell in sheet[1]:
                cell.font = Font(bold=True)
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "dd/mm/yyyy hh:mm"
            elif isinstance(cell.value, dt.date):
                cell.number_format = "dd/mm/yyyy"
            elif isinstance(cell.value, str) and "\n" in cell.value:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()
