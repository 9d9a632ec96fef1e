"""The streaming XLSX writer (issue 10) gives the ARS the workbook openpyxl gave it: read back
by openpyxl, every cell of a campaign's export has the same value, type, date format, bold
and wrapping as the workbook openpyxl's write-only mode made of the same rows; the header
stays frozen; no text ever becomes a formula or an error value."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import openpyxl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Font

from tests.test_export_injection import hostile_export
from tests.test_exports import exported
from tests.test_exports_avis_priority import exported as exported_with_avis
from workflow.instruction.exports import export_rows, export_xlsx
from workflow.instruction.xlsx_writer import MAX_TEXT, sheet_title, write_sheet

_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def openpyxl_workbook(rows: list[list]) -> bytes:
    """The export as openpyxl's write-only mode wrote it before issue 10: the reference."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Dossiers")
    sheet.freeze_panes = "B2"

    def styled(value, **style):
        cell = WriteOnlyCell(sheet, value)
        if isinstance(value, str):
            cell.data_type = "s"
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    wrapped = Alignment(wrap_text=True, vertical="top")
    for index, row in enumerate(rows):
        cells = []
        for value in row:
            if index == 0:
                cells.append(styled(value, font=Font(bold=True), alignment=wrapped))
            elif isinstance(value, str):
                text = _NOT_IN_XLSX.sub("", value)[:MAX_TEXT]
                if "\n" in text:
                    cells.append(styled(text, alignment=wrapped))
                elif text[:1] == "=" or text in ERROR_CODES:
                    cells.append(styled(text))
                else:
                    cells.append(text)
            elif isinstance(value, dt.datetime):
                cells.append(styled(value, number_format="dd/mm/yyyy hh:mm"))
            elif isinstance(value, dt.date):
                cells.append(styled(value, number_format="dd/mm/yyyy"))
            else:
                cells.append(value)
        sheet.append(cells)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def cells(data: bytes) -> list[list[tuple]]:
    """Every cell as openpyxl reads it: value, type, number format, bold, wrapping."""
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [
        [
            (
                c.value,
                # An empty cell has no type to compare (openpyxl reads back the type
                # attribute of the empty text cells it wrote).
                c.data_type if c.value is not None else None,
                c.number_format if c.value is not None else None,
                bool(c.font.b),
                bool(c.alignment.wrap_text),
            )
            for c in row
        ]
        for row in sheet.iter_rows()
    ]


def assert_same_as_openpyxl(session, campaign_id, rows_expected):
    mine = export_xlsx(session, campaign_id)
    reference = openpyxl_workbook(list(export_rows(session, campaign_id)))
    read = cells(mine)
    assert read == cells(reference)
    assert len(read) == rows_expected
    book = openpyxl.load_workbook(io.BytesIO(mine))
    assert book.sheetnames == ["Dossiers"]
    assert book.active.freeze_panes == "B2"
    return mine, read


def test_an_export_with_dates_tables_and_decision_reads_as_openpyxl_wrote_it(world, session):
    campaign, _ = exported(world, session)
    _, read = assert_same_as_openpyxl(session, campaign.id, 2)
    header, row = read
    assert all(bold and wrapped for _, _, _, bold, wrapped in header)
    values = {h[0]: c for h, c in zip(header, row, strict=True)}
    assert values["Candidat — Date d'inscription"][:3] == (
        dt.datetime(2026, 9, 1),
        "d",
        "dd/mm/yyyy",
    )
    assert values["Décision publiée le"][2] == "dd/mm/yyyy hh:mm"
    assert values["Candidat — Stages"][4] is True  # two lines: wrapped


def test_a_hostile_export_reads_as_openpyxl_wrote_it_and_holds_no_formula(world, session):
    campaign = hostile_export(world, session)
    data, read = assert_same_as_openpyxl(session, campaign.id, 2)
    assert {kind for row in read for _, kind, *_ in row} <= {"s", "n", "d", None}
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_an_export_with_avis_and_priorities_reads_as_openpyxl_wrote_it(world, session):
    campaign, _, _ = exported_with_avis(world, session)
    assert_same_as_openpyxl(session, campaign.id, 3)


def test_texts_keep_their_spaces_and_returns_and_lose_only_what_xml_cannot_hold():
    texts = [
        "  espaces avant et après  ",
        "\r=1+1",
        "a\r\nb",
        "bip\x07 \x00nul\x1b[31m",
        "<b>gras</b> & \"cité\" 'ici'",
        "surrogate \ud800 seul",
        "x" * (MAX_TEXT + 10),
        "=" + "\x01" * 5 + "y" * MAX_TEXT,
        "#DIV/0!",
    ]
    output = io.BytesIO()
    assert write_sheet(output, "Textes", [f"t{i}" for i in range(len(texts))], [texts]) == 1
    _, row = cells(output.getvalue())
    assert [value for value, *_ in row] == [
        "  espaces avant et après  ",
        "\r=1+1",
        "a\r\nb",
        "bip nul[31m",
        "<b>gras</b> & \"cité\" 'ici'",
        "surrogate  seul",
        "x" * MAX_TEXT,
        "=" + "y" * (MAX_TEXT - 1),
        "#DIV/0!",
    ]
    assert {kind for _, kind, *_ in row} == {"s"}
    assert [wrapped for *_, wrapped in row] == [False, False, True] + [False] * 6


def test_numbers_booleans_and_empty_cells_keep_their_place_and_type():
    rows = [
        [1, None, 2.5, True, None, -40, float("nan"), 12345678901234567, dt.date(1900, 1, 1)],
        [None, None, None, None, None, None, None, None, dt.datetime(2026, 3, 29, 2, 30, 15)],
    ]
    output = io.BytesIO()
    assert write_sheet(output, "Nombres", [f"n{i}" for i in range(9)], rows) == 2
    _, first, second = ([value for value, *_ in row] for row in cells(output.getvalue()))
    assert first == [
        1,
        None,
        2.5,
        True,
        None,
        -40,
        None,
        1.234567890123457e16,
        dt.datetime(1900, 1, 1),
    ]
    assert second == [None] * 8 + [dt.datetime(2026, 3, 29, 2, 30, 15)]
    sheet = openpyxl.load_workbook(io.BytesIO(output.getvalue())).active
    # Excel's 1900 calendar, as openpyxl counted it.
    assert sheet["I2"].value == dt.datetime(1900, 1, 1)


def test_many_rows_go_through_in_batches_and_all_come_back():
    rows = (
        [n, f"Dossier {n}", dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)] for n in range(2345)
    )
    output = io.BytesIO()
    assert write_sheet(output, "Dossiers", ["N°", "Nom", "Date"], rows) == 2345
    sheet = openpyxl.load_workbook(io.BytesIO(output.getvalue()), read_only=True).active
    read = list(sheet.iter_rows(values_only=True))
    assert len(read) == 2346
    assert read[2345] == (2344, "Dossier 2344", dt.datetime(2026, 1, 1) + dt.timedelta(days=244))


def test_a_sheet_is_named_as_excel_accepts():
    assert sheet_title("Campagne: 2026/2027 [IdF] — assistants spécialistes") == (
        "Campagne  2026 2027  IdF  — ass"
    )
    assert sheet_title("'???'") == "Feuille"
    output = io.BytesIO()
    write_sheet(output, 'ASP "Île-de-France" & <Normandie>', ["a"], [])
    book = openpyxl.load_workbook(io.BytesIO(output.getvalue()))
    assert book.sheetnames == ['ASP "Île-de-France" & <Normandie'[:31]]


def test_awkward_values_read_back_as_from_openpyxl():
    row = [
        "",
        "   ",
        "\n",
        " \t",
        "a\nb",
        "&amp;",
        "]]>",
        "x ",
        " x",
        "é" * 40,
        "emoji 🩺",
        "=SUM(A1:A2)",
        "#REF!",
        "\x0bvertical tab",
        0,
        -0.5,
        10**15,
        dt.datetime(2026, 10, 25, 2, 59, 59, 999999),
        dt.date(2027, 2, 28),
    ]
    header = [f"colonne {i}" for i in range(len(row))]
    mine = io.BytesIO()
    write_sheet(mine, "Dossiers", header, [row, row[::-1]])
    assert cells(mine.getvalue()) == cells(openpyxl_workbook([header, row, row[::-1]]))
