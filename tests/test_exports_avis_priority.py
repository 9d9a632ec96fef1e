"""Exports carry the organisation's order of priority and one column group per avis of the
campaign (verdict, date, who gave it), texts neutralised like every other cell."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl

from tests.conftest import at_paris
from workflow.instruction.exports import FIXED, export_csv, export_rows, export_xlsx
from workflow.models import Avis
from workflow.plumbing.db import transaction

AVIS = [
    {"key": "coordonnateur", "label": "du coordonnateur du DES", "giver": "coordonnateur"},
    {"key": "chef", "label": "du chef de service", "giver": "chef_de_service"},
]
GROUPS = [
    "Avis du coordonnateur du DES — verdict",
    "Avis du coordonnateur du DES — date",
    "Avis du coordonnateur du DES — donné par",
    "Avis du chef de service — verdict",
    "Avis du chef de service — date",
    "Avis du chef de service — donné par",
]


def exported(world, session):
    campaign = world.campaign(avis=AVIS)
    hospital = world.organisation(name="CH de Gonesse")
    first = world.dossier(campaign, hospital, "en_instruction")
    second = world.dossier(campaign, hospital, "en_instruction")
    with transaction(session):
        first.priority, second.priority = 2, 1
        session.add_all(
            [
                Avis(
                    dossier_id=first.id,
                    avis_key="coordonnateur",
                    giver_email="coordo@chu.example.fr",
                    giver_name='=HYPERLINK("http://x")',
                    verdict="favorable",
                    comment="Bon projet.",
                    invited_at=at_paris(2026, 4, 1),
                    given_at=at_paris(2026, 4, 3, 14, 30),
                ),
                Avis(
                    dossier_id=first.id,
                    avis_key="chef",
                    giver_email="chef@ch.example.fr",
                    invited_at=at_paris(2026, 4, 1),
                ),
            ]
        )
    return campaign, first, second


def test_each_avis_of_the_campaign_has_its_column_group_and_the_priority_its_column(world, session):
    campaign, first, second = exported(world, session)
    header, *rows = list(export_rows(session, campaign.id))
    assert "Ordre de priorité" in FIXED
    assert header[-6:] == GROUPS
    by_number = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    given = by_number[first.number]
    assert given["Ordre de priorité"] == 2
    assert given["Avis du coordonnateur du DES — verdict"] == "Favorable"
    assert given["Avis du coordonnateur du DES — date"] == dt.datetime(2026, 4, 3, 14, 30)
    assert given["Avis du coordonnateur du DES — donné par"] == '=HYPERLINK("http://x")'
    assert given["Avis du chef de service — verdict"] == "En attente"
    assert given["Avis du chef de service — date"] is None
    assert given["Avis du chef de service — donné par"] == "chef@ch.example.fr"
    none = by_number[second.number]
    assert none["Ordre de priorité"] == 1
    assert [none[h] for h in GROUPS] == [None] * 6


def test_a_campaign_without_avis_has_no_avis_columns(world, session):
    campaign = world.campaign()
    world.dossier(campaign, world.organisation(), "en_instruction")
    header, _ = list(export_rows(session, campaign.id))
    assert not any(h.startswith("Avis ") for h in header)


def test_the_avis_giver_never_becomes_a_formula_in_csv_or_xlsx(world, session):
    campaign, first, _ = exported(world, session)
    data = export_csv(session, campaign.id).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(data), delimiter=";"))
    cells = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    mine = cells[str(first.number)]
    assert mine["Avis du coordonnateur du DES — donné par"] == '\'=HYPERLINK("http://x")'
    assert mine["Avis du coordonnateur du DES — date"] == "03/04/2026 14:30"
    assert mine["Ordre de priorité"] == "2"
    book = openpyxl.load_workbook(io.BytesIO(export_xlsx(session, campaign.id)))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    column = header.index("Avis du coordonnateur du DES — donné par")
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == first.number:
            assert row[column].data_type == "s"
            assert row[column].value == '=HYPERLINK("http://x")'
            break
    else:
        raise AssertionError("dossier absent from the XLSX")


def test_each_dossier_gets_its_own_avis_whatever_the_dossiers_around_it_have(world, session):
    campaign = world.campaign(avis=AVIS)
    hospital = world.organisation(name="CH de Gonesse")
    dossiers = [world.dossier(campaign, hospital, "en_instruction") for _ in range(4)]
    with transaction(session):
        for index in (1, 3):
            session.add(
                Avis(
                    dossier_id=dossiers[index].id,
                    avis_key="chef",
                    giver_email=f"chef{index}@ch.example.fr",
                    invited_at=at_paris(2026, 4, 1),
                )
            )
        # Asked again to someone else: the second request replaces the first.
        session.add(
            Avis(
                dossier_id=dossiers[3].id,
                avis_key="chef",
                giver_email="autre-chef@ch.example.fr",
                invited_at=at_paris(2026, 4, 2),
            )
        )
    header, *rows = list(export_rows(session, campaign.id))
    givers = [dict(zip(header, row, strict=True))[GROUPS[5]] for row in rows]
    assert [row[0] for row in rows] == [d.number for d in dossiers]
    assert givers == [None, "chef1@ch.example.fr", None, "autre-chef@ch.example.fr"]
