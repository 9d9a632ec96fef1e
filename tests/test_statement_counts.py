"""The number of SQL statements of the hot requests — a volet saved, a dossier deposited,
the instructors' dashboard (first page, filtered, searched, next page) — is fixed here, so
that a query added to them does not go unnoticed; how long they take is bench/'s business.

Counted: every statement the app's engine sends, but the BEGIN that SQLite's recipe sends
itself (PostgreSQL's driver opens its transactions without one), so that both databases
count the same. Each count is commented statement by statement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from tests.conftest import COMPLETE_VALUES, at_paris
from workflow.administration.instructors import follow
from workflow.plumbing.db import transaction

DURING = at_paris(2026, 2, 10)


@contextmanager
def statements(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The SQL statements the app sends while the block runs."""
    engine = app.extensions["db_sessions"].kw["bind"]
    sent: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith("BEGIN"):
            sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def shown(sent: list[str]) -> str:
    return "\n".join(f"{i + 1:2}. {s[:160]}" for i, s in enumerate(sent))


@pytest.fixture
def hospital(world):
    organisation = world.organisation(name="CH de Gonesse")
    world.user("deposant", organisation)
    return organisation


def test_a_volet_save_sends_a_fixed_number_of_statements(app, client, auth, world, hospital):
    campaign = world.campaign()
    dossier = world.dossier(campaign, hospital, complete=True)
    auth.login(world.user("deposant", hospital))
    with auth.at(DURING):
        url = f"/dossiers/{dossier.id}/volets/candidat"
        data = {**COMPLETE_VALUES["candidat"], "nom": "Durand"}
        data = {k: "" if v is None else str(v) for k, v in data.items()}
        client.get(url)  # the campaign's definition is parsed once per process: now
        with statements(app) as sent:
            response = client.post(url, data=data)
    assert response.status_code == 302, response.text
    # The session with its user (one Core statement); the dossier; its UPDATE (the search
    # text in it, the organisation's name taken from the dossier's copy), which on PostgreSQL also
    # writes the audit row (a writable CTE); on SQLite the audit row's own INSERT. The pieces
    # are read by the page that follows, not by the save.
    expected = 3 if app.extensions["db_sessions"].kw["bind"].dialect.name == "postgresql" else 4
    assert len(sent) == expected, shown(sent)
    if expected == 3:
        assert "INSERT INTO audit_events" in sent[2], shown(sent)


def test_a_dossier_without_the_copy_of_its_organisations_name_gets_it_at_its_save(
    app, client, auth, world, hospital, session
):
    """The save takes the organisation's name for the search text from the dossier's own
    copy; a dossier inserted without it (in bulk) reads the name once, and its save writes
    the copy, so that the next save does not read it again."""
    from sqlalchemy import update

    from workflow.models import Dossier

    campaign = world.campaign()
    dossier = world.dossier(campaign, hospital, complete=True)
    with transaction(session):
        session.execute(
            update(Dossier).where(Dossier.id == dossier.id).values(organisation_name=None)
        )
    auth.login(world.user("deposant", hospital))
    url = f"/dossiers/{dossier.id}/volets/candidat"
    data = {k: "" if v is None else str(v) for k, v in COMPLETE_VALUES["candidat"].items()}
    counts = []
    with auth.at(DURING):
        client.get(url)
        for name in ("Durand", "Dupont"):
            with statements(app) as sent:
                response = client.post(url, data={**data, "nom": name})
            assert response.status_code == 302, response.text
            counts.append(sum("FROM organisations" in line for line in sent))
    assert counts == [1, 0]
    session.expire_all()
    stored = session.get(Dossier, dossier.id)
    assert stored.organisation_name == "CH de Gonesse"
    assert "ch de gonesse" in stored.search_text and "dupont" in stored.search_text


def test_a_volet_save_is_one_transaction_on_postgresql(app, client, auth, world, hospital):
    """On PostgreSQL the save goes on in the transaction that read the session and the
    dossier: one COMMIT, where a read transaction then a write one cost two round trips
    more (SQLite takes its write lock at BEGIN IMMEDIATE, so it keeps the two)."""
    engine = app.extensions["db_sessions"].kw["bind"]
    campaign = world.campaign()
    dossier = world.dossier(campaign, hospital, complete=True)
    auth.login(world.user("deposant", hospital))
    commits: list[object] = []

    def count(connection) -> None:  # type: ignore[no-untyped-def]
        commits.append(connection)

    with auth.at(DURING):
        url = f"/dossiers/{dossier.id}/volets/candidat"
        data = {k: "" if v is None else str(v) for k, v in COMPLETE_VALUES["candidat"].items()}
        client.get(url)
        event.listen(engine, "commit", count)
        try:
            response = client.post(url, data=data)
        finally:
            event.remove(engine, "commit", count)
    assert response.status_code == 302, response.text
    assert len(commits) == (1 if engine.dialect.name == "postgresql" else 2)


def test_a_deposit_sends_a_fixed_number_of_statements(app, client, auth, world, hospital):
    campaign = world.campaign()
    dossier = world.dossier(campaign, hospital, complete=True)
    auth.login(world.user("deposant", hospital))
    with auth.at(DURING):
        data = {"action": "deposer", "attestations": "complet", "consent": "oui"}
        client.get(f"/dossiers/{dossier.id}/confirmer")
        with statements(app) as sent:
            response = client.post(f"/dossiers/{dossier.id}/confirmer", data=data)
    assert response.status_code == 302, response.text
    # The session with its user; the dossier; the « Confirmer » boxes, in
    # a transaction of their own (kept even if the deposit is refused): UPDATE and audit
    # row; the pieces, for the completeness guard; the number; the deposit's UPDATE (number,
    # state, search text), whose RETURNING counts the webhooks listening to state changes;
    # its audit row; the accusé de réception, one INSERT … SELECT; no webhook delivery, as
    # none listens here. On PostgreSQL the last three are the UPDATE's statement (writable
    # CTEs, the deliveries included).
    expected = 7 if app.extensions["db_sessions"].kw["bind"].dialect.name == "postgresql" else 9
    assert len(sent) == expected, shown(sent)


@pytest.fixture
def dashboard(world, auth, hospital):
    """A campaign of 60 deposited dossiers (two pages) and an instructeur who follows it,
    signed in."""
    campaign = world.campaign()
    for index in range(60):
        world.dossier(campaign, hospital, ("en_construction", "en_instruction")[index % 2])
    instructeur, administrateur = world.user("instructeur"), world.actor("administrateur")
    with transaction(world.session):
        follow(world.session, instructeur, campaign, administrateur)
    auth.login(instructeur)
    return f"/instruction/campagnes/{campaign.slug}"


# Every dashboard page: the session with its user; the campaign; whether the user follows
# it; the counts per state and speciality; the page's rows; the undelivered mails; the
# decisions to publish; the campaign's instructeurs. The rows' completeness was computed by
# the same page a moment before (it is kept per dossier version): no query for the pieces.
DASHBOARD = 8


@pytest.mark.parametrize(
    ("query", "extra"),
    [
        ("", 0),
        # Sorted by candidate, whose empty values come after the others in a query of their
        # own when the first did not fill the page.
        ("?etat=en_instruction&specialite=Dermatologie&tri=candidat", 1),
        # A search counts its matches.
        ("?q=lambourde", 1),
    ],
    ids=["first page", "filtered", "search"],
)
def test_a_dashboard_page_sends_a_fixed_number_of_statements(app, client, dashboard, query, extra):
    client.get(dashboard + query)
    with statements(app) as sent:
        response = client.get(dashboard + query)
    assert response.status_code == 200
    assert len(sent) == DASHBOARD + extra, shown(sent)


def test_the_next_page_sends_a_fixed_number_of_statements(app, client, dashboard):
    first = client.get(dashboard).text
    next_url = re.search(r'href="([^"]+)"[^>]*rel="next"', first).group(1).replace("&amp;", "&")
    client.get(next_url)
    with statements(app) as sent:
        response = client.get(next_url)
    assert response.status_code == 200
    assert response.text.count('<tr id="dossier-') == 10
    # The dossier the page starts after, for its place in the order.
    assert len(sent) == DASHBOARD + 1, shown(sent)


def test_a_dashboard_page_asks_for_the_pieces_of_dossiers_changed_since(
    app, client, dashboard, world, session
):
    from workflow.models import Dossier

    client.get(dashboard)
    changed = session.scalars(select(Dossier).order_by(Dossier.number).limit(1)).one()
    with transaction(session):
        changed.values = {}
    with statements(app) as sent:
        page = client.get(dashboard).text
    assert len(sent) == DASHBOARD + 1, shown(sent)
    row = page[page.index(f'id="dossier-{changed.id}"') :]
    assert "Incomplet" in row[: row.index("</tr>")]
