"""Field values as the déposant types them, and whether a dossier is complete."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from tests.conftest import COMPLETE_VALUES, definition
from workflow.campaigns.completeness import CONFIRMATION, PIECES, completeness
from workflow.campaigns.fields import clean_value
from workflow.campaigns.schema import FieldDef, FieldType


def field(type_: str, **extra: Any) -> FieldDef:
    return FieldDef.model_validate({"key": "champ", "label": "Champ", "type": type_, **extra})


STAGES = field(
    "table",
    label="Stages",
    max_rows=3,
    columns=[
        {"key": "lieu", "label": "Lieu de stage", "type": "text", "required": True},
        {"key": "debut", "label": "Début", "type": "date"},
        {"key": "mois", "label": "Durée en mois", "type": "integer"},
    ],
)

# --- text -----------------------------------------------------------------------------------


def test_a_text_is_stored_trimmed():
    assert clean_value(field("text"), "  CHU La Pyte \n").value == "CHU La Pyte"


def test_a_text_longer_than_its_max_length_is_refused_with_the_count():
    cleaned = clean_value(field("long_text", max_length=10), "Projet médical partagé")
    assert cleaned.error == "10 caractères au maximum (22 saisis)."
    assert clean_value(field("long_text", max_length=10), "Projet").error is None


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["2026-03-20", "20/03/2026", " 20/03/2026 ", dt.date(2026, 3, 20)]
)
def test_a_date_is_stored_in_iso_form_whether_typed_iso_or_jj_mm_aaaa(typed):
    cleaned = clean_value(field("date"), typed)
    assert (cleaned.value, cleaned.error) == ("2026-03-20", None)


@pytest.mark.parametrize("typed", ["31/02/2026", "2026-13-01", "20 mars 2026", "03/20/2026"])
def test_an_impossible_or_foreign_date_is_refused(typed):
    assert clean_value(field("date"), typed).error == (
        "Date invalide : utilisez le format jj/mm/aaaa."
    )


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [("12", 12), (" 1 200 ", 1200), (7, 7), ("4.0", 4)])
def test_an_integer_is_stored_as_a_number(typed, stored):
    cleaned = clean_value(field("integer"), typed)
    assert (cleaned.value, cleaned.error) == (stored, None)


@pytest.mark.parametrize("typed", ["3,5", "douze", "12 mois"])
def test_an_integer_field_refuses_what_is_not_a_whole_number(typed):
    assert clean_value(field("integer"), typed).error == "Saisissez un nombre entier."


def test_an_integer_outside_its_bounds_is_refused_with_the_bound():
    lits = field("integer", minimum=1, maximum=10)
    assert clean_value(lits, "0").error == "La valeur doit être au moins 1."
    assert clean_value(lits, "11").error == "La valeur doit être au plus 10."
    assert clean_value(lits, "10").error is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("50", 50),
        ("50,5", 50.5),
        ("50 %", 50),
        ("50\u00a0%", 50),
        ("0", 0),
        (100, 100),
        (33.333, 33.33),
    ],
)
def test_a_percentage_accepts_the_french_ways_of_writing_it(typed, stored):
    cleaned = clean_value(field("percentage"), typed)
    assert (cleaned.value, cleaned.error) == (stored, None)


@pytest.mark.parametrize("typed", [120, "120", "-5", "100,5"])
def test_a_percentage_above_100_or_below_0_is_refused(typed):
    assert clean_value(field("percentage"), typed).error == (
        "Un pourcentage est compris entre 0 et 100."
    )


def test_a_percentage_that_is_not_a_number_is_refused():
    assert clean_value(field("percentage"), "la moitié").error == (
        "Saisissez un pourcentage, par exemple 60."
    )


def test_a_percentage_below_the_field_minimum_is_refused_in_percent():
    ambulatoire = field("percentage", minimum=50)
    assert clean_value(ambulatoire, "40").error == "La valeur doit être au moins 50 %."


# --- choices --------------------------------------------------------------------------------

STATUTS = ["assistant", "praticien", "chef_de_clinique"]


def test_a_choice_accepts_one_of_its_values_only():
    statut = field("choice", choices=STATUTS)
    assert clean_value(statut, "praticien").value == "praticien"
    assert clean_value(statut, "interne").error == "Choisissez une des valeurs proposées."


def test_a_multiple_choice_is_stored_in_the_order_of_the_choices():
    statuts = field("multi_choice", choices=STATUTS)
    cleaned = clean_value(statuts, ["chef_de_clinique", "assistant", "assistant"])
    assert (cleaned.value, cleaned.error) == (["assistant", "chef_de_clinique"], None)
    assert clean_value(statuts, "praticien").value == ["praticien"]


def test_a_multiple_choice_refuses_a_value_not_offered_and_names_it():
    statuts = field("multi_choice", choices=STATUTS)
    assert clean_value(statuts, ["assistant", "interne"]).error == (
        "Valeur(s) non proposée(s) : interne."
    )


# --- yes / no -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("oui", True), ("Oui", True), ("non", False), (" NON ", False), (True, True), (False, False)],
)
def test_a_yes_no_answer_is_stored_as_a_boolean(typed, stored):
    cleaned = clean_value(field("yes_no"), typed)
    assert cleaned.value is stored
    assert cleaned.error is None


def test_a_yes_no_field_refuses_another_answer():
    assert clean_value(field("yes_no"), "peut-être").error == "Répondez par oui ou par non."


# --- tables ---------------------------------------------------------------------------------


def test_blank_table_rows_are_dropped_and_cells_typed():
    rows = [
        {"lieu": "CHU La Pyte", "debut": "01/11/2025", "mois": "6"},
        {"lieu": " ", "debut": "", "mois": None},
        {},
    ]
    cleaned = clean_value(STAGES, rows)
    assert cleaned.error is None
    assert cleaned.value == [{"lieu": "CHU La Pyte", "debut": "2025-11-01", "mois": 6}]


def test_a_table_names_the_row_and_column_of_each_error():
    rows = [
        {"lieu": "CHU La Pyte", "debut": "31/02/2026", "mois": "6"},
        {"lieu": "", "debut": "01/05/2026", "mois": "3"},
    ]
    cleaned = clean_value(STAGES, rows)
    assert cleaned.error == (
        "ligne 1, « Début » : Date invalide : utilisez le format jj/mm/aaaa. ; "
        "ligne 2, « Lieu de stage » est obligatoire."
    )


def test_a_table_refuses_more_rows_than_its_max_rows():
    rows = [{"lieu": f"Hôpital {n}"} for n in range(4)]
    assert clean_value(STAGES, rows).error == "3 lignes au maximum (4 saisies)."


def test_an_unreadable_table_is_refused():
    assert clean_value(STAGES, "CHU La Pyte").error == "Tableau illisible."


# --- identifiers ----------------------------------------------------------------------------


def test_a_finess_with_a_bad_key_is_an_error():
    cleaned = clean_value(field("finess"), "010000157")
    assert cleaned.error == "La clé de contrôle du n° FINESS est invalide : vérifiez le numéro."


def test_a_finess_is_stored_without_its_spaces():
    cleaned = clean_value(field("finess"), "01 000 015 6")
    assert (cleaned.value, cleaned.error) == ("010000156", None)


def test_an_rpps_with_an_unusual_key_is_a_warning_not_an_error():
    cleaned = clean_value(field("rpps"), "10003456787")
    assert cleaned.error is None
    assert cleaned.value == "10003456787"
    assert cleaned.warning is not None and "RPPS" in cleaned.warning
    assert clean_value(field("rpps"), "10003456786").warning is None


def test_an_rpps_of_the_wrong_length_is_an_error():
    assert clean_value(field("rpps"), "1000345678").error is not None


def test_a_postal_code_of_no_department_is_an_error():
    assert clean_value(field("postal_code"), "96000").error is not None
    assert clean_value(field("postal_code"), "01000").value == "01000"


# --- empty values ---------------------------------------------------------------------------


def any_field(type_: FieldType) -> FieldDef:
    if type_ in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
        return field(type_.value, choices=STATUTS, required=True)
    if type_ is FieldType.TABLE:
        return STAGES
    return field(type_.value, required=True)


def empty_inputs() -> list[Any]:
    """Every type with the empty values a form can send for it: a table or a multiple choice
    arrives as a list, the others as text."""
    cases = []
    for type_ in FieldType:
        lists = type_ in (FieldType.MULTI_CHOICE, FieldType.TABLE)
        texts = ["", "   "] if type_ is not FieldType.TABLE else [""]
        for empty in [None, *texts, *([[]] if lists else [])]:
            cases.append(pytest.param(type_, empty, id=f"{type_.value}-{empty!r}"))
    return cases


@pytest.mark.parametrize(("type_", "empty"), empty_inputs())
def test_an_empty_value_is_none_without_error_even_when_required(type_, empty):
    cleaned = clean_value(any_field(type_), empty)
    assert cleaned.value is None
    assert cleaned.error is None


# --- completeness ---------------------------------------------------------------------------


def values(**changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The complete values of the test campaign with some fields of some volets changed."""
    data = copy.deepcopy(COMPLETE_VALUES)
    for volet, fields in changes.items():
        data.setdefault(volet, {}).update(fields)
    return data


def complete_except(campaign, data, **kwargs):  # type: ignore[no-untyped-def]
    given = {"pieces": ["cv"], "attestations": ["complet"], "consent": True, **kwargs}
    return completeness(campaign, data, **given)


def test_a_fully_filled_dossier_is_complete():
    report = complete_except(definition(), values())
    assert report.complete
    assert report.problems == []


def test_a_missing_required_field_is_named_with_its_volet():
    report = complete_except(definition(), values(candidat={"nom": ""}))
    assert not report.complete
    (problem,) = report.problems
    assert (problem.place, problem.key) == ("candidat", "nom")
    assert problem.message == "Candidat — « Nom » est obligatoire."


def test_an_invalid_stored_value_is_a_problem():
    report = complete_except(definition(), values(identification={"partenaire_email": "dam@"}))
    (problem,) = report.problems
    assert problem.key == "partenaire_email"
    assert problem.message.startswith("Identification — « Email du partenaire » : ")


THESE = {
    "key": "these",
    "title": "Thèse",
    "fields": [
        {"key": "soutenue", "label": "Thèse soutenue", "type": "yes_no", "required": True},
        {
            "key": "date_soutenance",
            "label": "Date de soutenance",
            "type": "date",
            "required": True,
            "visible_if": {"field": "these.soutenue", "equals": True},
        },
        {
            "key": "date_prevue",
            "label": "Date prévue de soutenance",
            "type": "date",
            "required": True,
            "visible_if": {"field": "these.soutenue", "equals": False},
        },
    ],
}


def with_these():  # type: ignore[no-untyped-def]
    base = definition()
    volets = [v.model_dump() for v in base.volets]
    return definition(volets=[*volets, THESE])


def these_problems(answers: dict[str, Any]) -> list[tuple[str | None, str]]:
    report = complete_except(with_these(), values(these=answers))
    return [(p.key, p.message) for p in report.problems]


def test_a_thesis_defended_asks_for_the_date_of_defence_only():
    assert these_problems({"soutenue": True}) == [
        ("date_soutenance", "Thèse — « Date de soutenance » est obligatoire.")
    ]
    assert these_problems({"soutenue": True, "date_soutenance": "2025-06-12"}) == []


def test_a_thesis_not_yet_defended_asks_for_the_planned_date_only():
    assert these_problems({"soutenue": False}) == [
        ("date_prevue", "Thèse — « Date prévue de soutenance » est obligatoire.")
    ]
    assert these_problems({"soutenue": False, "date_prevue": "2026-12-01"}) == []


def test_a_field_hidden_by_its_condition_is_neither_required_nor_checked():
    assert these_problems({}) == [("soutenue", "Thèse — « Thèse soutenue » est obligatoire.")]
    hidden_and_wrong = {"soutenue": True, "date_soutenance": "2025-06-12", "date_prevue": "?"}
    assert these_problems(hidden_and_wrong) == []


def test_a_field_shown_when_another_is_filled():
    campaign = definition(
        volets=[
            *[v.model_dump() for v in definition().volets],
            {
                "key": "projet",
                "title": "Projet",
                "fields": [
                    {"key": "partenaire_2", "label": "Second partenaire", "type": "text"},
                    {
                        "key": "convention_2",
                        "label": "Convention avec le second partenaire",
                        "type": "text",
                        "required": True,
                        "visible_if": {"field": "projet.partenaire_2", "filled": True},
                    },
                ],
            },
        ]
    )
    assert complete_except(campaign, values(projet={"partenaire_2": None})).complete
    report = complete_except(campaign, values(projet={"partenaire_2": "CH Sud"}))
    assert [p.key for p in report.problems] == ["convention_2"]


def test_a_sum_rule_reports_the_actual_total():
    report = complete_except(definition(), values(candidat={"temps_partenaire": 40}))
    (problem,) = report.problems
    assert (problem.place, problem.key) == ("candidat", "temps_partenaire")
    assert problem.message == (
        "« Temps à l'hôpital » + « Temps chez le partenaire » doit faire 100 % (actuellement 90 %)."
    )


def test_a_sum_rule_shows_decimals_with_a_comma():
    report = complete_except(
        definition(), values(candidat={"temps_hopital": 50.5, "temps_partenaire": 40})
    )
    assert report.messages()[0].endswith("(actuellement 90,50 %).")


def test_a_sum_rule_waits_until_every_field_is_filled():
    report = complete_except(definition(), values(candidat={"temps_partenaire": None}))
    assert report.messages() == ["Candidat — « Temps chez le partenaire » est obligatoire."]


def test_a_rule_message_given_in_the_campaign_replaces_the_default():
    rules = [
        {
            "kind": "sum",
            "fields": ["candidat.temps_hopital", "candidat.temps_partenaire"],
            "total": 100,
            "message": "Le temps partagé doit totaliser 100 %.",
        }
    ]
    report = complete_except(definition(rules=rules), values(candidat={"temps_hopital": 10}))
    assert report.messages() == ["Le temps partagé doit totaliser 100 %."]


def test_a_minimum_share_rule_refuses_less():
    rules = [{"kind": "min", "field": "candidat.temps_partenaire", "value": 50}]
    campaign = definition(rules=rules)
    low = values(candidat={"temps_hopital": 60, "temps_partenaire": 40})
    assert complete_except(campaign, low).messages() == [
        "« Temps chez le partenaire » doit être d'au moins 50 %."
    ]
    assert complete_except(campaign, values()).complete


def test_a_maximum_share_rule_refuses_more():
    rules = [{"kind": "max", "field": "candidat.temps_hopital", "value": 50}]
    campaign = definition(rules=rules)
    high = values(candidat={"temps_hopital": 60, "temps_partenaire": 40})
    (problem,) = complete_except(campaign, high).problems
    assert (problem.place, problem.key) == ("candidat", "temps_hopital")
    assert problem.message == "« Temps à l'hôpital » doit être d'au plus 50 %."


def test_a_minimum_on_an_integer_field_does_not_speak_of_percent():
    volets = [v.model_dump() for v in definition().volets]
    volets[1]["fields"] = [
        *volets[1]["fields"],
        {"key": "demi_journees", "label": "Nombre de demi-journées", "type": "integer"},
    ]
    rules = [{"kind": "min", "field": "candidat.demi_journees", "value": 2}]
    campaign = definition(volets=volets, rules=rules)
    report = complete_except(campaign, values(candidat={"demi_journees": 1}))
    assert report.messages() == ["« Nombre de demi-journées » doit être d'au moins 2."]


def test_one_of_two_fields_is_enough():
    neither = values(candidat={"rpps": None, "date_inscription": None})
    report = complete_except(definition(), neither)
    (problem,) = report.problems
    assert (problem.place, problem.key) == ("candidat", "date_inscription")
    assert problem.message == "Renseignez « N° RPPS » ou « Date prévisionnelle d'inscription »."
    planned = values(candidat={"rpps": None, "date_inscription": "2026-09-01"})
    assert complete_except(definition(), planned).complete


def test_a_missing_required_piece_is_a_problem_and_an_optional_one_is_not():
    pieces = [
        {"key": "cv", "label": "CV du candidat"},
        {"key": "lettre", "label": "Lettre de motivation", "required": False},
    ]
    report = complete_except(definition(pieces=pieces), values(), pieces=[])
    assert [(p.place, p.key, p.message) for p in report.problems] == [
        (PIECES, "cv", "Pièce manquante : CV du candidat.")
    ]


def test_attestations_and_consent_must_be_ticked():
    report = complete_except(definition(), values(), attestations=[], consent=False)
    assert [(p.place, p.key, p.message) for p in report.problems] == [
        (CONFIRMATION, "complet", "Attestation à cocher : Je certifie que le dossier est complet."),
        (
            CONFIRMATION,
            "consent",
            "Le consentement au traitement des données personnelles est à cocher.",
        ),
    ]


def test_a_campaign_without_consent_text_asks_for_no_consent():
    report = complete_except(definition(consent=None), values(), consent=False)
    assert report.complete


def test_problems_are_grouped_by_volet_in_campaign_order():
    data = values(candidat={"nom": None}, identification={"specialite": ""})
    report = completeness(definition(), data)
    grouped = report.by_place()
    assert list(grouped) == ["identification", "candidat", PIECES, CONFIRMATION]
    assert [p.key for p in grouped["identification"]] == ["specialite"]
    assert [p.key for p in grouped["candidat"]] == ["nom"]
    assert [p.key for p in grouped[CONFIRMATION]] == ["complet", "consent"]


def test_a_broken_rule_is_grouped_with_its_volet_in_campaign_order():
    volets = [v.model_dump() for v in definition().volets]
    volets.append(
        {
            "key": "projet",
            "title": "Projet",
            "fields": [
                {"key": "objectifs", "label": "Objectifs", "type": "text", "required": True}
            ],
        }
    )
    data = values(candidat={"temps_partenaire": 40}, projet={"objectifs": None})
    report = complete_except(definition(volets=volets), data)
    assert list(report.by_place()) == ["candidat", "projet"]


def test_a_warning_does_not_make_a_dossier_incomplete():
    report = complete_except(definition(), values(candidat={"rpps": "10003456787"}))
    assert report.complete
    (warning,) = report.warnings
    assert (warning.place, warning.key) == ("candidat", "rpps")
    assert "RPPS" in warning.message
