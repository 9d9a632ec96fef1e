"""The accessibility statement (« déclaration d'accessibilité ») State services must publish:
one page anyone reaches from every page's footer, stating the measured result."""

from __future__ import annotations

import pytest

from web.public.views import AUDIT

# Every route of the public blueprint, seen alike by everyone, signed in or not.
PUBLIC_ROUTES = [
    ("get", "/"),
    ("get", "/accessibilite"),
    ("get", "/codes-postaux/75013"),
    ("get", "/donnees-personnelles"),
    ("get", "/mentions-legales"),
]
ROLES = ["anonyme", "deposant", "instructeur", "administrateur"]


def test_every_public_route_is_in_the_access_test(app):
    adapter = app.url_map.bind("localhost")
    covered = {adapter.match(path, method=method.upper())[0] for method, path in PUBLIC_ROUTES}
    routes = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("public.")
    }
    assert routes == covered


@pytest.mark.parametrize(("method", "path"), PUBLIC_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_public_pages_are_open_to_everyone(role, method, path, client, auth, world):
    if role != "anonyme":
        organisation = world.organisation() if role == "deposant" else None
        auth.login(world.user(role, organisation))
    response = getattr(client, method)(path)
    assert response.status_code == 200
    if response.is_json:
        return  # the communes of a postal code: tests/test_postal_codes.py
    # Every page's footer leads to the statement, with the conformity stated.
    assert 'href="/accessibilite">Accessibilité : partiellement conforme</a>' in response.text


def test_the_statement_says_partially_conformant_with_the_measured_result_and_recourse(client):
    page = client.get("/accessibilite").text
    assert "<h1>Déclaration d'accessibilité</h1>" in page
    # Automated checks cover only part of the RGAA: « partiellement conforme » is honest.
    assert "Postes partagés est partiellement conforme</strong>" in page
    assert "RGAA), version 4.1" in page
    assert f"Le {AUDIT['date']}, un contrôle automatisé (axe-core" in page
    assert f"a vérifié {AUDIT['states']} états de page" in page
    assert "Aucune violation grave ou critique" in page
    assert "Non-conformités connues" in page
    assert "Défenseur des droits" in page and "Libre réponse 71120" in page
    assert "article 47 de la loi n° 2005-102" in page
