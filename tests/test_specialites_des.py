"""Specialties come from the official list of DES (campaigns/data/specialites-des.yaml, with
its source), not free text: « Dermatologie » and « dermato » no longer split the
instructors' filter, and a campaign may restrict the list."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from tests.conftest import definition
from tests.test_seed_campaigns import load
from workflow.campaigns.fields import clean_value
from workflow.campaigns.reference_lists import DATA_DIR, reference_list
from workflow.campaigns.schema import FieldType


def with_specialty(**field: object):  # type: ignore[no-untyped-def]
    return definition(
        volets=[
            {
                "key": "identification",
                "title": "Identification",
                "fields": [{"key": "specialite", "label": "Spécialité", **field}],
            }
        ],
        rules=[],
        summary={"speciality": "identification.specialite"},
    )


def test_the_list_names_its_source_and_the_date_it_reflects() -> None:
    text = (DATA_DIR / "specialites-des.yaml").read_text(encoding="utf-8")
    assert "arrêté du 21 avril 2017" in text.lower()
    data = yaml.safe_load(text)
    assert "21 avril 2017" in data["source"] and data["reflects"]


def test_the_list_holds_each_des_once() -> None:
    labels = reference_list("specialites_des")
    assert len(labels) == len(set(labels)) >= 44
    for label in ("Dermatologie et vénéréologie", "Médecine générale", "Médecine d'urgence"):
        assert label in labels


def test_a_specialty_field_offers_the_whole_list_and_refuses_free_text() -> None:
    field = (
        with_specialty(type="choice", choices_from="specialites_des")
        .volet("identification")
        .fields[0]
    )
    assert [c.value for c in field.choices] == list(reference_list("specialites_des"))
    assert clean_value(field, "Dermatologie et vénéréologie").error is None
    assert clean_value(field, "dermato").error == "Choisissez une des valeurs proposées."


def test_a_campaign_may_restrict_the_list() -> None:
    only = ["Pédiatrie", "Dermatologie et vénéréologie"]
    field = (
        with_specialty(type="choice", choices_from="specialites_des", choices_only=only)
        .volet("identification")
        .fields[0]
    )
    # In the list's order, not the file's.
    assert [c.value for c in field.choices] == ["Dermatologie et vénéréologie", "Pédiatrie"]
    assert clean_value(field, "Neurologie").error == "Choisissez une des valeurs proposées."


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"type": "choice", "choices_from": "specialites_des", "choices_only": ["Dermato"]},
         "absent\\(s\\) de la liste « specialites_des » : « Dermato »"),
        ({"type": "text", "choices_from": "specialites_des"}, "qu'avec un champ « choice »"),
        ({"type": "choice", "choices_from": "metiers"}, "specialites_des"),
    ],
)  # fmt: skip
def test_a_wrong_list_or_restriction_is_refused_in_french(field, message) -> None:
    with pytest.raises(ValidationError, match=message):
        with_specialty(**field)


@pytest.mark.parametrize(
    ("slug", "refs"),
    [
        ("idf-asp-vague6", ["identification.recruteur_specialite",
                            "identification.partenaire_specialite"]),
        ("normandie-asp-2025", ["candidat.specialite"]),
        ("normandie-asr-2026", ["candidat.specialite_des", "parcours.des_specialite"]),
    ],
)  # fmt: skip
def test_the_campaigns_specialty_fields_take_the_official_list(slug, refs) -> None:
    campaign = load(slug)
    for ref in refs:
        field = campaign.field(ref)
        assert field.type is FieldType.CHOICE and field.choices_from == "specialites_des"
        assert len(field.choices) == len(reference_list("specialites_des"))
