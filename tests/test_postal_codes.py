"""Postal codes and towns checked against the official lists, not only their shape: the town
is proposed from the postal code (La Poste's table, npm `codes-postaux`) and a town the code
does not serve is flagged next to its field. The IdF ASP form asks « Etablissement de santé
recruteur — CP » then « — Ville » (idf-asp-vague6-mode-operatoire.txt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from web.deposant.volet_form import field_views, warnings
from workflow.campaigns.addresses import address_warnings, paired_postal_codes, town_proposals
from workflow.campaigns.loader import load_campaign_file
from workflow.plumbing import postal_codes
from workflow.plumbing.db import ROOT
from workflow.plumbing.identifiers import IdentifierError, check_postal_code

needs_table = pytest.mark.skipif(
    postal_codes.load() is None,
    reason=f"{postal_codes.DATA} is missing: `npm install` installs codes-postaux",
)
ASP = load_campaign_file(ROOT / "campaigns" / "idf-asp-vague6.yaml")
IDENTIFICATION = ASP.volet("identification")


def identification(**values: str) -> dict[str, str]:
    return {
        "recruteur_cp": "95500",
        "recruteur_ville": "Gonesse",
        "partenaire_cp": "75013",
        "partenaire_ville": "Paris",
        **values,
    }


def test_each_town_field_goes_with_the_postal_code_before_it():
    pairs = {town: code.key for town, code in paired_postal_codes(IDENTIFICATION).items()}
    assert pairs == {"recruteur_ville": "recruteur_cp", "partenaire_ville": "partenaire_cp"}


@needs_table
@pytest.mark.parametrize(
    ("code", "communes"),
    [("75013", ["Paris"]), ("14000", ["Caen"]), ("76000", ["Rouen"])],
)
def test_the_town_of_a_real_postal_code_is_proposed(code, communes):
    assert postal_codes.communes_of(code) == communes
    proposals = town_proposals(IDENTIFICATION, identification(partenaire_cp=code))
    assert proposals["partenaire_ville"] == communes


@needs_table
def test_a_postal_code_serving_several_communes_proposes_each():
    assert postal_codes.communes_of("95500") == [
        "Bonneuil-en-France",
        "Gonesse",
        "Le Thillay",
        "Vaudherland",
    ]


def test_an_unknown_postal_code_is_refused_or_flagged_as_unknown():
    with pytest.raises(IdentifierError) as refused:
        check_postal_code("00000")
    assert refused.value.message.startswith("Code postal inconnu : 00000")
    assert check_postal_code("75999").warning.startswith("Code postal inconnu : 75999")
    assert "partenaire_ville" not in town_proposals(
        IDENTIFICATION, identification(partenaire_cp="00000")
    )


@needs_table
def test_a_town_its_postal_code_does_not_serve_is_flagged_next_to_the_field():
    found = address_warnings(
        IDENTIFICATION, identification(partenaire_cp="14000", partenaire_ville="Rouen")
    )
    assert found == {
        "partenaire_ville": "La commune « Rouen » ne correspond pas au code postal 14000 "
        "(commune(s) de ce code : Caen) : vérifiez le code postal ou la commune."
    }
    # In the volet form: the warning under the town field, the code's towns proposed.
    views = {
        v.field.key: v
        for v in field_views(
            ASP,
            IDENTIFICATION,
            identification(partenaire_cp="14000", partenaire_ville="Rouen"),
            {},
            {},
        )
    }
    assert views["partenaire_ville"].warning.startswith("La commune « Rouen » ne correspond pas")
    assert views["partenaire_ville"].proposals == ["Caen"]
    assert views["recruteur_ville"].warning is None


@needs_table
@pytest.mark.parametrize(
    ("code", "town"),
    [
        ("75013", "Paris"),
        ("75013", "PARIS 13E ARRONDISSEMENT"),
        ("14000", "caen"),
        ("76000", "Rouen Cedex 1"),
        ("95500", "le thillay"),
        ("95500", "Thillay (Le)"),
    ],
)
def test_a_town_written_another_way_still_matches(code, town):
    assert postal_codes.serves(code, town) is True
    assert warnings(IDENTIFICATION, identification(partenaire_cp=code, partenaire_ville=town)) == {}


def test_a_cedex_code_is_not_compared_with_the_town():
    # 76031 is the CHU de Rouen's CEDEX code: La Poste's distribution table does not hold it.
    assert postal_codes.serves("76031", "Rouen") is None
    found = warnings(
        IDENTIFICATION, identification(partenaire_cp="76031", partenaire_ville="Rouen")
    )
    assert "partenaire_ville" not in found
    assert found["partenaire_cp"].startswith("Code postal inconnu : 76031")


def test_without_the_npm_table_only_the_shape_and_frformats_list_are_checked(tmp_path: Path):
    missing = tmp_path / "codes-postaux.json"
    assert postal_codes.communes_of("75013", missing) is None
    assert postal_codes.serves("14000", "Rouen", missing) is None
    assert check_postal_code("75013").warning is None


@needs_table
def test_the_communes_of_a_postal_code_are_served_as_json_for_the_form(client):
    assert client.get("/codes-postaux/14000").json == {"code": "14000", "communes": ["Caen"]}
    assert client.get("/codes-postaux/76031").json == {"code": "76031", "communes": []}
    assert client.get("/codes-postaux/7501").status_code == 404
    assert client.get("/codes-postaux/abcde").status_code == 404
