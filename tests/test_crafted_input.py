"""Crafted input answered in French, never with a server error: numbers written with other
digits (« ² » passes `str.isdigit()`, « ٣ » is read as 3), beyond the database's integers,
NUL characters, wrong methods. Each reproduction of issue 15 (hole 6) is a test here, on
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import COMPLETE_VALUES, at_paris
from web.shared.parsing import DATABASE_INT_MAX, parse_int
from workflow.administration.instructors import follow
from workflow.campaigns.fields import clean_value
from workflow.campaigns.schema import FieldDef
from workflow.models import Dossier
from workflow.plumbing.db import transaction

DURING = at_paris(2026, 2, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        (" 7 ", 7),
        ("²", None),
        ("٣", None),
        ("１２", None),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("", None),
        (None, None),
        ("9223372036854775808", None),
        ("1" * 5000, None),
        (str(DATABASE_INT_MAX), DATABASE_INT_MAX),
        (str(DATABASE_INT_MAX + 1), None),
    ],
)
def test_a_number_is_read_from_ascii_digits_within_the_database_range(text, expected):
    assert parse_int(text) == expected


def test_a_number_out_of_its_bounds_gives_the_default():
    assert parse_int("0", 1, minimum=1) == 1
    assert parse_int("101", 5, maximum=100) == 5
    assert parse_int("²", 1) == 1


@pytest.fixture
def dashboard(world, auth, campaign):
    """The dashboard's address, for an instructeur who follows the campaign, signed in;
    the campaign holds one deposited dossier of a candidate named Lambourde."""
    user = world.user("instructeur")
    admin = world.actor("administrateur")
    with transaction(world.session):
        follow(world.session, user, campaign, admin)
    auth.login(user)
    world.dossier(campaign, world.organisation(), "en_instruction")
    return f"/instruction/campagnes/{campaign.slug}"


@pytest.mark.parametrize("page", ["²", "٣", "-1", "0", "9223372036854775808", "1" * 400])
def test_a_crafted_page_number_on_the_dashboard_shows_the_first_page(client, dashboard, page):
    response = client.get(dashboard, query_string={"page": page})
    assert response.status_code == 200
    assert "Lambourde Peggy" in response.text


@pytest.mark.parametrize("query", ["²", "٣", "9223372036854775808", "1" * 400])
def test_a_crafted_search_on_the_dashboard_is_searched_as_text_and_finds_nothing(
    client, dashboard, query
):
    response = client.get(dashboard, query_string={"q": query})
    assert response.status_code == 200
    assert "Lambourde Peggy" not in response.text


def test_a_search_of_a_nul_character_alone_is_an_empty_search(client, dashboard):
    response = client.get(dashboard, query_string={"q": "\x00"})
    assert response.status_code == 200
    assert "Lambourde Peggy" in response.text


def test_a_dossier_number_is_still_found_by_the_search(client, dashboard, session):
    number = session.query(Dossier.number).scalar()
    response = client.get(dashboard, query_string={"q": str(number)})
    assert "Lambourde Peggy" in response.text


@pytest.fixture
def brouillon(world, auth, campaign):
    hospital = world.organisation()
    auth.login(world.user("deposant", hospital))
    return world.dossier(campaign, hospital)


def test_a_volet_saved_with_version_in_superscript_digits_is_saved_not_a_server_error(
    client, auth, brouillon, session
):
    form = {**COMPLETE_VALUES["identification"], "partenaire_nom": "CHU Neuf", "version": "²"}
    with auth.at(DURING):
        response = client.post(f"/dossiers/{brouillon.id}/volets/identification", data=form)
    assert response.status_code == 302
    session.expire_all()
    saved = session.get(Dossier, brouillon.id)
    assert saved.values["identification"]["partenaire_nom"] == "CHU Neuf"


@pytest.mark.parametrize("path", ["/dossiers/٣", "/dossiers/99999999999999999999999"])
def test_a_dossier_path_with_other_digits_or_beyond_the_database_is_not_found(
    client, brouillon, path
):
    response = client.get(path)
    assert response.status_code == 404
    assert "Page introuvable" in response.text


def test_the_dossier_path_in_ascii_digits_still_opens_the_dossier(client, auth, brouillon):
    with auth.at(DURING):
        assert client.get(f"/dossiers/{brouillon.id}").status_code == 302


def test_a_nul_character_typed_in_a_volet_is_dropped_not_a_server_error(
    client, auth, brouillon, session
):
    form = {**COMPLETE_VALUES["identification"], "partenaire_nom": "CHU\x00 La Pyte"}
    with auth.at(DURING):
        response = client.post(f"/dossiers/{brouillon.id}/volets/identification", data=form)
    assert response.status_code == 302
    session.expire_all()
    saved = session.get(Dossier, brouillon.id)
    assert saved.values["identification"]["partenaire_nom"] == "CHU La Pyte"


def test_a_nul_character_in_a_campaign_address_is_not_found(client, campaign):
    response = client.get(f"/campagnes/{campaign.slug}%00")
    assert response.status_code == 404
    assert "Page introuvable" in response.text


def test_an_integer_of_four_hundred_digits_is_refused_in_french():
    field = FieldDef.model_validate({"key": "annees", "label": "Années", "type": "integer"})
    cleaned = clean_value(field, "1" * 400)
    assert cleaned.error == "Saisissez un nombre entier."


@pytest.mark.parametrize("typed", ["٣", "²", "1e400", "nan"])
def test_an_integer_in_other_digits_or_notation_is_refused_in_french(typed):
    field = FieldDef.model_validate({"key": "annees", "label": "Années", "type": "integer"})
    assert clean_value(field, typed).error == "Saisissez un nombre entier."


def test_a_wrong_method_gets_the_french_page_with_its_allow_header(client):
    response = client.put("/connexion")
    assert response.status_code == 405
    assert "Action impossible ici" in response.text and '<html lang="fr"' in response.text
    assert "POST" in response.headers["Allow"]
