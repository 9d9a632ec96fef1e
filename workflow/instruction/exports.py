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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import Column, FieldDef, FieldType
from workflow.campaigns.store import definition_of
from workflow.instruction.deposited import DEPOSITED
from workflow.machine.states import workflow
from workflow.models import Avis, CampaignVersion, Decision, Dossier, Organisation
from workflow.plumbing.dates import PARIS, as_utc

VERDICTS = {"favorable": "Favorable", "defavorable": "Défavorable"}
DECISIONS = {
    "accepte": "Accepté",
    "refuse": "Refusé",
    "sans_suite": "Classé sans suite",
    "liste_complementaire": "Liste complémentaire",
}
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


BATCH = 1000
Progress = Callable[[int], None]


def count_rows(session: Session, campaign_id: int) -> int:
    """How many dossiers an export of the campaign has (its deposited dossiers)."""
    return (
        session.scalar(
            select(func.count(Dossier.id)).where(Dossier.campaign_id == campaign_id, DEPOSITED)
        )
        or 0
    )


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
    # Per version of the form, each column's field definition, found once (not per cell).
    fields = {
        vid: [_field(definition, column) for column in columns]
        for vid, definition in definitions.items()
    }
    rows = session.execute(
        select(
            Dossier.id,
            Dossier.number,
            Dossier.priority,
            Dossier.campaign_version_id,
            Dossier.state,
            Dossier.deposited_at,
            Dossier.values,
            Organisation.name,
            Organisation.finess,
            Organisation.siret,
            Decision.kind,
            Decision.motivation,
            Decision.published_at,
        )
        .join(Organisation, Organisation.id == Dossier.organisation_id)
        .outerjoin(Decision, Decision.dossier_id == Dossier.id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Dossier.number)
        # Plain rows in batches (a server-side cursor on PostgreSQL), not ORM objects:
        # memory stays flat and time linear whatever the number of dossiers.
        .execution_options(yield_per=BATCH)
    )
    avis = _avis_by_dossier(session, campaign_id) if avis_columns else {}
    for (
        dossier_id,
        number,
        priority,
        version_id,
        state,
        deposited_at,
        values,
        name,
        finess,
        siret,
        decision,
        motivation,
        published_at,
    ) in rows:
        row: list[Any] = [
            number,
            name,
            finess,
            siret,
            priority,
            labels[state],
            _local(deposited_at),
            DECISIONS[decision] if decision else None,
            motivation if decision else None,
            _local(published_at) if decision else None,
            versions[version_id],
        ]
        values = values or {}
        for column, field in zip(columns, fields[version_id], strict=True):
            row.append(_cell(field, column, values))
        given = avis.get(dossier_id, {})
        for key, _ in avis_columns:
            row += _avis_cells(given.get(key))
        yield row


def _field(definition: Definition, column: _Column) -> FieldDef | None:
    try:
        return definition.field(f"{column.volet}.{column.field}")
    except StopIteration:
        return None  # a field of another version of the form


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


def _avis_by_dossier(session: Session, campaign_id: int) -> dict[int, dict[str, Row]]:
    """The avis of each deposited dossier of the campaign, by key: the one given last, or
    else the last one asked (an avis asked again replaces the first request). Plain rows of
    the columns the export shows, not ORM objects: memory stays small."""
    rows = session.execute(
        select(Avis.dossier_id, Avis.avis_key, Avis.verdict, Avis.given_at, Avis.giver_name,
               Avis.giver_email)
        .join(Dossier, Dossier.id == Avis.dossier_id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Avis.given_at.is_not(None), Avis.given_at, Avis.invited_at, Avis.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    found: dict[int, dict[str, Row]] = {}
    for avis in rows:
        found.setdefault(avis.dossier_id, {})[avis.avis_key] = avis
    return found


def _avis_cells(avis: Row | None) -> list[Any]:
    if avis is None:
        return [None, None, None]
    giver = avis.giver_name or avis.giver_email
    if avis.given_at is None:
        return ["En attente", None, giver]
    # A signature without verdict (the candidate's consent, ASR Annexe 12) reads « Signé ».
    verdict = VERDICTS.get(avis.verdict, avis.verdict) if avis.verdict else "Signé"
    return [verdict, _local(avis.given_at), giver]


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


def _cell(field: FieldDef | None, column: _Column, values: dict[str, Any]) -> Any:
    value = (values.get(column.volet) or {}).get(column.field)
    if value is None:
        return None
    if field is None:
        return str(value)
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
    if kind is FieldType.CHOICE:
        return {c.value: c.label for c in field.choices}.get(value, value)
    if kind is FieldType.MULTI_CHOICE:
        labels = {c.value: c.label for c in field.choices}
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
    output = io.BytesIO()
    write_csv(session, campaign_id, output)
    return output.getvalue()


def write_csv(
    session: Session, campaign_id: int, output: IO[bytes], progress: Progress | None = None
) -> None:
    """`export_csv` written into `output` row by row; `progress(n)` is told the number of
    dossiers written every BATCH rows and at the end."""
    text = io.TextIOWrapper(output, encoding="utf-8", newline="", write_through=False)
    text.write("\ufeff")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    written = -1
    for written, row in enumerate(export_rows(session, campaign_id)):
        writer.writerow([_csv_value(v) for v in row])
        if progress and written and written % BATCH == 0:
            progress(written)
    if progress:
        progress(max(written, 0))
    text.flush()
    text.detach()  # leaves `output` open for the caller


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return neutralised(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
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


def _styled(sheet: Any, value: Any, **style: Any) -> WriteOnlyCell:
    """A cell with its own style; a text is always a string cell, never a formula."""
    cell = WriteOnlyCell(sheet, value)
    if isinstance(value, str):
        cell.data_type = "s"
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def _xlsx_text(text: str) -> str:
    return _NOT_IN_XLSX.sub("", text)[:XLSX_MAX_TEXT]


def export_xlsx(session: Session, campaign_id: int, title: str = "Dossiers") -> bytes:
    """An Excel workbook with a frozen, bold header row and dates as dates; every text is a
    string cell, never a formula, whatever it starts with."""
    output = io.BytesIO()
    write_xlsx(session, campaign_id, output, title)
    return output.getvalue()


def write_xlsx(
    session: Session,
    campaign_id: int,
    output: IO[bytes] | str,
    title: str = "Dossiers",
    progress: Progress | None = None,
) -> None:
    """`export_xlsx` written into `output` (a file or its path) in openpyxl's write-only
    mode: rows go to a temporary file as they come, never held as a sheet in memory."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "B2"
    header_font = Font(bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")
    date_time = {"number_format": "dd/mm/yyyy hh:mm"}
    date_only = {"number_format": "dd/mm/yyyy"}
    written = -1
    for written, row in enumerate(export_rows(session, campaign_id)):
        cells: list[Any] = []
        for value in row:
            if written == 0:
                cells.append(_styled(sheet, value, font=header_font, alignment=wrapped))
            elif isinstance(value, str):
                text = _xlsx_text(value)
                if "\n" in text:
                    cells.append(_styled(sheet, text, alignment=wrapped))
                elif text[:1] == "=" or text in ERROR_CODES:
                    # openpyxl makes a formula of any text starting with "=" (and an error
                    # value of "#N/A"…): the cell is told it holds a string.
                    cells.append(_styled(sheet, text))
                else:
                    # A plain value: openpyxl writes it through one reused cell, the fast path.
                    cells.append(text)
            elif isinstance(value, dt.datetime):
                cells.append(_styled(sheet, value, **date_time))
            elif isinstance(value, dt.date):
                cells.append(_styled(sheet, value, **date_only))
            else:
                cells.append(value)
        sheet.append(cells)
        if progress and written and written % BATCH == 0:
            progress(written)
    book.save(output)
    if progress:
        progress(max(written, 0))
