"""A dossier's audit trail as a timeline (who, when, from, to, message), and a dossier shown
read-only as a person reads it."""

from __future__ import annotations

import datetime as dt

import time_machine

from tests.conftest import COMPLETE_VALUES, at_paris, definition
from workflow.administration.campaigns import change_deadline
from workflow.instruction.readable import shown_volets
from workflow.instruction.timeline import campaign_timeline, dossier_timeline
from workflow.machine.operations import fire
from workflow.plumbing.db import transaction


def test_the_timeline_says_who_did_what_when_and_why(world, session):
    dossier, deposant = world.deposited()
    instructeur = world.actor("instructeur")
    with time_machine.travel(at_paris(2026, 3, 25), tick=False):
        with transaction(session):
            fire(session, dossier, "passer_en_instruction", instructeur)
        with transaction(session):
            payload = {"message": "Joindre le CV signé.", "due_date": dt.date(2026, 4, 2)}
            fire(session, dossier, "demander_corrections", instructeur, payload)
    entries = dossier_timeline(session, dossier.id)
    assert [e.what for e in entries] == [
        "Déposer le dossier",
        "Passer en instruction",
        "Demander des corrections",
    ]
    last = entries[-1]
    assert (last.who, last.from_state, last.to_state) == (
        instructeur.label,
        "En instruction",
        "En construction",
    )
    assert last.details == (
        "Message : Joindre le CV signé.",
        "À corriger au plus tard le 2 avril 2026 inclus.",
    )
    assert entries[0].who == deposant.label and entries[0].changes_state
    assert last.at == at_paris(2026, 3, 25)


def test_the_campaigns_own_events_are_its_timeline(world, session):
    campaign = world.campaign()
    admin = world.actor("administrateur")
    with transaction(session):
        change_deadline(session, campaign, dt.date(2026, 3, 27), admin, "Grève des postes.")
    (entry,) = campaign_timeline(session, campaign.id)
    assert entry.what == "Date limite modifiée"
    assert entry.details == (
        "Motif : Grève des postes.",
        "Avant : jusqu'au 20 mars 2026 inclus ; après : jusqu'au 27 mars 2026 inclus.",
    )


def test_a_dossier_reads_in_french_volet_by_volet():
    form = definition()
    volets = shown_volets(form, COMPLETE_VALUES)
    assert [v.title for v in volets] == ["Identification", "Candidat"]
    candidat = {f.label: f.text for f in volets[1].fields}
    assert candidat["Nom"] == "Lambourde"
    assert candidat["Temps à l'hôpital"] == "50 %"
    assert candidat["Date prévisionnelle d'inscription"] == ""


def test_repeated_rows_read_as_a_table_and_dates_in_words():
    form = definition(
        volets=[
            {
                "key": "parcours",
                "title": "Parcours",
                "fields": [
                    {
                        "key": "stages",
                        "label": "Stages",
                        "type": "table",
                        "columns": [
                            {"key": "lieu", "label": "Lieu"},
                            {"key": "debut", "label": "Début", "type": "date"},
                            {"key": "these", "label": "Thèse", "type": "yes_no"},
                        ],
                    },
                    {
                        "key": "mode",
                        "label": "Mode",
                        "type": "choice",
                        "choices": [{"value": "temps_plein", "label": "Temps plein"}],
                    },
                ],
            }
        ],
        summary={},
        rules=[],
    )
    values = {
        "parcours": {
            "stages": [{"lieu": "CHU Rouen", "debut": "2024-11-04", "these": True}],
            "mode": "temps_plein",
        }
    }
    (volet,) = shown_volets(form, values)
    stages, mode = volet.fields
    assert stages.is_table and stages.columns == ("Lieu", "Début", "Thèse")
    assert stages.rows == (("CHU Rouen", "4 novembre 2024", "Oui"),)
    assert mode.text == "Temps plein"
