"""Exports of a campaign: every field of every volet, state, decision and dates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
from contextlib import closing

import openpyxl
import pytest

from tests.conftest import COMPLETE_VALUES
from workflow.instruction import exports
from workflow.instruction.exports import FIXED, _answers, export_csv, export_rows, export_xlsx
from workflow.plumbing.db import transaction


def exported(world, session):
    campaign = world.campaign(
        volets=[
            {"key": "identification", "title": "Identification", "fields": [
                {"key": "recruteur_finess", "label": "FINESS", "type": "finess"},
                {"key": "partenaire_nom", "label": "Nom du partenaire", "type": "text"},
                {"key": "partenaire_email", "label": "Email du partenaire", "type": "email"},
                {"key": "specialite", "label": "Spécialité", "type": "text"},
            ]},
            {"key": "candidat", "title": "Candidat", "fields": [
                {"key": "nom", "label": "Nom", "type": "text"},
                {"key": "prenom", "label": "Prénom", "type": "text"},
                {"key": "rpps", "label": "N° RPPS", "type": "rpps"},
                {"key": "date_inscription", "label": "Date d'inscription", "type": "date"},
                {"key": "temps_hopital", "label": "Temps hôpital", "type": "percentage"},
                {"key": "temps_partenaire", "label": "Temps partenaire", "type": "percentage"},
                {"key": "these", "label": "Thèse soutenue", "type": "yes_no"},
                {"key": "stages", "label": "Stages", "type": "table", "columns": [
                    {"key": "etablissement", "label": "Établissement"},
                    {"key": "debut", "label": "Début", "type": "date"},
                ]},
            ]},
        ],
    )  # fmt: skip
    hospital = world.organisation(name="CH de Gonesse")
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    values = {
        **COMPLETE_VALUES,
        "candidat": {
            **COMPLETE_VALUES["candidat"],
            "date_inscription": "2026-09-01",
            "these": True,
            "stages": [
                {"etablissement": "CHU de Rouen", "debut": "2024-11-02"},
                {"etablissement": "CH du Havre", "debut": "2025-05-04"},
            ],
        },
    }
    with transaction(session):
        dossier.values = values
    return campaign, dossier


def test_the_export_has_a_column_per_field_and_readable_values(world, session):
    campaign, dossier = exported(world, session)
    header, row = list(export_rows(session, campaign.id))
    assert header[: len(FIXED)] == list(FIXED)
    assert header[len(FIXED) :] == [
        "Identification — FINESS", "Identification — Nom du partenaire",
        "Identification — Email du partenaire", "Identification — Spécialité",
        "Candidat — Nom", "Candidat — Prénom", "Candidat — N° RPPS",
        "Candidat — Date d'inscription", "Candidat — Temps hôpital",
        "Candidat — Temps partenaire", "Candidat — Thèse soutenue", "Candidat — Stages",
    ]  # fmt: skip
    cells = dict(zip(header, row, strict=True))
    assert cells["N° de dossier"] == dossier.number
    assert cells["Organisation"] == "CH de Gonesse"
    assert cells["État"] == "Accepté"
    assert cells["Décision"] == "Accepté"
    assert cells["Motivation"] == "Projet solide."
    assert cells["Candidat — Date d'inscription"] == dt.date(2026, 9, 1)
    assert cells["Candidat — Thèse soutenue"] == "Oui"
    assert cells["Candidat — Temps hôpital"] == 50
    assert cells["Candidat — Stages"] == (
        "Établissement : CHU de Rouen ; Début : 02/11/2024\n"
        "Établissement : CH du Havre ; Début : 04/05/2025"
    )


def test_the_xlsx_opens_with_openpyxl_and_holds_every_field(world, session):
    campaign, dossier = exported(world, session)
    book = openpyxl.load_workbook(io.BytesIO(export_xlsx(session, campaign.id)))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    assert len(rows[0]) == len(FIXED) + 12
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["Candidat — Nom"] == "Lambourde"
    assert cells["Candidat — Date d'inscription"] == dt.datetime(2026, 9, 1)
    assert "CH du Havre" in cells["Candidat — Stages"]


def test_the_csv_opens_in_french_excel(world, session):
    campaign, _ = exported(world, session)
    data = export_csv(session, campaign.id)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["Candidat — Date d'inscription"] == "01/09/2026"
    assert cells["Identification — Spécialité"] == "Dermatologie"


def test_answers_are_read_as_json_reads_them_even_where_orjson_differs():
    for text in (
        '{"a": {"n": 123456789012345678901234567890, "m": -98765432109876543210}}',
        '{"a": {"n": 18446744073709551615, "f": 1e400, "g": NaN, "h": -Infinity}}',
        '{"a": {"s": "\\ud800", "z": "a\\u0000b", "x": [0.1, 1e-07, 12.5, true, null]}}',
        '{"a": {"b": 1, "b": 2}}',
        '{"a": {"phone": "+33 1 23 45 67 89", "rpps": "10003456786"}}',
    ):
        expected = json.loads(text)
        assert repr(_answers(text)) == repr(expected)  # NaN != NaN: compared as written


def test_a_lone_surrogate_in_an_answer_does_not_fail_the_csv(world, session, monkeypatch):
    """SQLite keeps a JSON "\\ud800" (PostgreSQL's jsonb refuses it), which UTF-8 cannot
    encode: the CSV writes « ? » in its place instead of failing the whole export."""
    campaign, _ = exported(world, session)
    rows = export_rows

    def with_a_surrogate(session, campaign_id):
        for n, row in enumerate(rows(session, campaign_id)):
            yield row if n == 0 else [*row[:-1], "Stage au CH\ud800 de Rouen"]

    monkeypatch.setattr(exports, "export_rows", with_a_surrogate)
    data = export_csv(session, campaign.id).decode("utf-8-sig")
    assert "Stage au CH? de Rouen" in data


def test_an_export_left_midway_stops_reading_and_leaves_the_session_usable(
    world, session, monkeypatch
):
    campaign = world.campaign()
    hospital = world.organisation()
    for _ in range(5):
        world.dossier(campaign, hospital, "en_construction")
    monkeypatch.setattr(exports, "BATCH", 2)  # several batches, read ahead on PostgreSQL
    with closing(export_rows(session, campaign.id)) as rows:
        next(rows)  # the header
        next(rows)
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
    assert len(list(export_rows(session, campaign.id))) == 6


def test_an_error_while_reading_the_rows_fails_the_export_and_stops_the_reading(
    world, session, monkeypatch
):
    campaign = world.campaign()
    hospital = world.organisation()
    for _ in range(5):
        world.dossier(campaign, hospital, "en_construction")
    reading = exports._avis_beside

    def lost_on_the_second_batch(batches, avis):
        for n, batch in enumerate(reading(batches, avis)):
            if n == 1:
                raise ConnectionError("connexion perdue")
            yield batch

    monkeypatch.setattr(exports, "BATCH", 2)
    monkeypatch.setattr(exports, "_avis_beside", lost_on_the_second_batch)
    with pytest.raises(ConnectionError, match="connexion perdue"):
        export_csv(session, campaign.id)
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
    session.rollback()
    monkeypatch.setattr(exports, "_avis_beside", reading)
    assert export_csv(session, campaign.id).count(b"\r\n") == 6
