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
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass
from itertools import groupby, repeat
from typing import IO, Any

import orjson
from sqlalchemy import (
    Connection,
    CursorResult,
    DateTime,
    Row,
    Text,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import Column, FieldDef, FieldType
from workflow.campaigns.store import definition_of
from workflow.instruction.deposited import DEPOSITED
from workflow.instruction.xlsx_writer import write_sheet
from workflow.machine.states import workflow
from workflow.models import Avis, CampaignVersion, Decision, Dossier, Organisation
from workflow.plumbing.dates import PARIS
from workflow.plumbing.read_ahead import read_ahead

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
# An instant read without `UTCDateTime`'s conversion: aware on PostgreSQL, naive UTC on SQLite.
_INSTANT = DateTime(timezone=True)
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
    # Per version of the form, how each column's answer is read: found once, not per cell.
    readers = {vid: _volet_readers(definition, columns) for vid, definition in definitions.items()}
    query = (
        select(
            Dossier.number,
            Dossier.priority,
            Dossier.campaign_version_id,
            Dossier.state,
            # Instants as the driver gives them, without UTCDateTime's stop at UTC on each
            # read: `_local` takes them to Paris time whatever their zone (issue 10).
            type_coerce(Dossier.deposited_at, _INSTANT),
            # The answers as their JSON text, decoded by `_answers` (not the driver's json).
            cast(Dossier.values, Text),
            Organisation.name,
            Organisation.finess,
            Organisation.siret,
            Decision.kind,
            Decision.motivation,
            type_coerce(Decision.published_at, _INSTANT),
        )
        .join(Organisation, Organisation.id == Dossier.organisation_id)
        .outerjoin(Decision, Decision.dossier_id == Dossier.id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Dossier.number)
    )
    connection = session.connection()
    # Plain Core rows in batches (a server-side cursor on PostgreSQL), not through the ORM's
    # loading: memory stays flat and time linear whatever the number of dossiers.
    rows = connection.execute(query, execution_options={"yield_per": BATCH})
    # The avis come in number order beside the dossiers (a merge on the unique number).
    avis = _avis_rows(connection, campaign_id) if avis_columns else None
    batches = _avis_beside(rows.partitions(), avis)
    if connection.dialect.name == "postgresql":
        # The next batches are fetched while this one is written: the server's and the
        # network's wait hide behind Python's work (a third of a CSV export's time, issue
        # 10). Not on SQLite, whose connection is used by the thread that opened it only.
        batches = read_ahead(batches)
    with rows, avis if avis is not None else nullcontext(), closing(batches):
        for batch, givens in batches:
            for (
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
            ), given in zip(batch, givens or repeat(None), strict=False):
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
                values = (_answers(values) if values else None) or {}
                for volet, fields in readers[version_id]:
                    answers = values.get(volet) or {}
                    for key, read in fields:
                        value = answers.get(key)
                        row.append(value if value is None or read is None else read(value))
                if given is not None:
                    for key, _ in avis_columns:
                        row += _avis_cells(given.get(key))
                yield row


# Nineteen digits, the first not a zero: in every integer past 10**18 either way, which
# orjson may read otherwise than json (one past 64 bits becomes a float, silently). What
# else matches (a long decimal, a string of digits) only goes the slower way.
_LONG_NUMBER = re.compile(r"[1-9][0-9]{18}")


def _answers(text: str) -> Any:
    """A dossier's answers from their JSON text, as `json.loads` reads them, by orjson:
    two thirds of the time of the driver's json, the check included (0.65 s against 0.95 s
    for 100,000 of the bench's documents, issue 10). What orjson reads otherwise or refuses
    goes to `json.loads`: a long number (an integer typed past 64 bits is kept whole), NaN,
    Infinity and lone surrogates, which the JSON text of SQLite may hold (PostgreSQL's jsonb
    refuses them)."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


# How an answer is read for the export: None when it is shown as stored.
Reader = Callable[[Any], Any] | None


def _volet_readers(
    definition: Definition, columns: list[_Column]
) -> list[tuple[str, list[tuple[str, Reader]]]]:
    """The columns of one version of the form, grouped by runs of the same volet (each volet's
    answers are looked up once per row), with the reader of each field."""
    groups: list[tuple[str, list[tuple[str, Reader]]]] = []
    for column in columns:
        if not groups or groups[-1][0] != column.volet:
            groups.append((column.volet, []))
        groups[-1][1].append((column.field, _reader(_field(definition, column))))
    return groups


def _reader(field: FieldDef | None) -> Reader:
    """`_readable` for one field, its choices' labels looked up once."""
    if field is None:
        return str  # a field of another version of the form: shown as stored
    kind = field.type
    if kind is FieldType.TABLE:
        return lambda value: _readable(field, value)
    if kind is FieldType.DATE:
        return dt.date.fromisoformat
    if kind is FieldType.YES_NO:
        return _yes_no
    if kind is FieldType.CHOICE:
        labels = {c.value: c.label for c in field.choices}
        return lambda value: labels.get(value, value)
    if kind is FieldType.MULTI_CHOICE:
        labels = {c.value: c.label for c in field.choices}
        return lambda value: " ; ".join(labels.get(v, v) for v in value)
    return None


def _yes_no(value: Any) -> str:
    return "Oui" if value else "Non"


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


def _avis_rows(connection: Connection, campaign_id: int) -> CursorResult[Any]:
    """The avis of the campaign's deposited dossiers in dossier number order, for
    `_avis_beside`: of each dossier's avis of a key, the one given last comes last, or else
    the last one asked (an avis asked again replaces the first request)."""
    return connection.execute(
        select(Dossier.number, Avis.avis_key, Avis.verdict, Avis.given_at, Avis.giver_name,
               Avis.giver_email)
        .join(Dossier, Dossier.id == Avis.dossier_id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Dossier.number, Avis.given_at.is_not(None), Avis.given_at, Avis.invited_at,
                  Avis.id),
        execution_options={"yield_per": BATCH},
    )  # fmt: skip


def _avis_beside(
    batches: Iterator[Sequence[Row]], avis: CursorResult[Any] | None
) -> Iterator[tuple[Sequence[Row], list[dict[str, Row]] | None]]:
    """Each batch of dossier rows (their number first) with, row by row, the dossier's avis
    by key (None for all when the campaign asks for none). The avis are streamed beside the
    dossiers' rows, never gathered for the whole campaign: memory stays that of a batch."""
    if avis is None:
        for batch in batches:
            yield batch, None
        return
    by_dossier = ((n, {a.avis_key: a for a in given}) for n, given in groupby(avis, key=_number))
    next_avis = next(by_dossier, None)
    for batch in batches:
        givens: list[dict[str, Row]] = []
        for row in batch:
            number = row[0]
            while next_avis is not None and next_avis[0] < number:
                next_avis = next(by_dossier, None)
            givens.append(next_avis[1] if next_avis is not None and next_avis[0] == number else {})
        yield batch, givens


def _number(avis: Row) -> int:
    return avis.number


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
    # `as_utc` written out: an aware instant goes to Paris time directly, without a stop at
    # UTC on the way (the same instant; a conversion fewer for 100,000 dossiers, issue 10).
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(PARIS).replace(tzinfo=None)


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
    # A lone surrogate (a JSON "\ud800" that SQLite kept) cannot be written in UTF-8: it
    # becomes « ? » rather than failing the whole export (the XLSX drops it).
    text = io.TextIOWrapper(
        output, encoding="utf-8", errors="replace", newline="", write_through=False
    )
    text.write("\ufeff")
    writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
    # Closed on every path: an error here stops the rows' reading (and its thread) before
    # the caller's transaction ends.
    with closing(export_rows(session, campaign_id)) as rows:
        writer.writerow([_csv_value(v) for v in next(rows)])
        written = 0
        batch: list[list[Any]] = []
        starts_formula = _STARTS_FORMULA.match
        careful = _MAY_START_FORMULA
        for row in rows:
            # `_csv_value` inlined for the two commonest cells, a text and an integer or
            # nothing: about a million cells at 100,000 dossiers (issue 10). The regular
            # expression only runs on a text whose first character may start a formula.
            batch.append(
                [
                    ("'" + v if v[:1] in careful and starts_formula(v) else v)
                    if type(v) is str
                    else (v if v is None or type(v) is int else _csv_value(v))
                    for v in row
                ]
            )
            written += 1
            if len(batch) == BATCH:
                writer.writerows(batch)
                batch.clear()
                if progress:
                    progress(written)
        writer.writerows(batch)
    if progress:
        progress(written)
    text.flush()
    text.detach()  # leaves `output` open for the caller


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return neutralised(value)
    # strftime's "%d/%m/%Y %H:%M", written out: twice as fast, for a date or two per row.
    if isinstance(value, dt.datetime):
        return f"{value.day:02d}/{value.month:02d}/{value.year} {value.hour:02d}:{value.minute:02d}"
    if isinstance(value, dt.date):
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return value


# OWASP's CSV injection list: what a spreadsheet takes as the start of a formula or a DDE call.
FORMULA_STARTS = frozenset("=+-@\t\r")
# `neutralised`'s test as one regular expression: the first character is one of them, or
# the first after the leading spaces and line breaks is (`\s*+` takes them all, never fewer).
_STARTS_FORMULA = re.compile(r"[=+\-@\t\r]|\s*+[=+\-@\t\r]")
# The first characters of a text `_STARTS_FORMULA` may match: those and every space (`\s`
# is `str.isspace`, none of them past U+3000); a test checks them against the expression.
_MAY_START_FORMULA = FORMULA_STARTS | frozenset(c for c in map(chr, range(0x3001)) if c.isspace())


def neutralised(text: str) -> str:
    """A CSV text cell that no spreadsheet runs: one starting with `=`, `+`, `-`, `@`, a tab
    or a carriage return — also after leading spaces or line breaks, because LibreOffice and
    some CSV importers trim those before deciding — gets a leading single quote, which
    spreadsheets show as text and never evaluate. Other texts are unchanged."""
    if text[:1] in FORMULA_STARTS or text.lstrip()[:1] in FORMULA_STARTS:
        return "'" + text
    return text


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
    """`export_xlsx` written into `output` (a file or its path) by the streaming
    `xlsx_writer`: rows go to the file's deflate stream as they come, never held as a sheet
    in memory; `progress(n)` is told the number of dossiers written every BATCH rows and at
    the end."""
    with closing(export_rows(session, campaign_id)) as rows:
        written = write_sheet(output, title, next(rows), _told(rows, progress))
    if progress:
        progress(written)


def _told(rows: Iterator[list[Any]], progress: Progress | None) -> Iterator[list[Any]]:
    """`rows`, telling `progress` every BATCH rows how many went by."""
    if progress is None:
        yield from rows
        return
    for count, row in enumerate(rows, start=1):
        yield row
        if count % BATCH == 0:
            progress(count)
