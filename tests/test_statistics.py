"""The ARS's statistics, per campaign and across campaigns, equal counts made here in SQL;
the same figures as a page (table and chart), and as a CSV that no spreadsheet runs."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import text

from workflow.administration.instructors import follow
from workflow.commission.groups import set_funded_posts
from workflow.instruction.statistics import funded_posts_of, statistics, statistics_csv
from workflow.plumbing.db import transaction

# (state, speciality, days from deposit to decision or None)
SCENE = [
    ("brouillon", "Dermatologie", None),
    ("en_construction", "Dermatologie", None),
    ("en_instruction", "Dermatologie", None),
    ("accepte", "Dermatologie", 30),
    ("refuse", "Dermatologie", 45),
    ("en_poste", "Psychiatrie", 60),
    ("desiste", "Psychiatrie", 20),
    ("sans_suite", None, 10),
    ("confirme", "Psychiatrie", 15),
]


def build(world, session, campaign, organisation, scene=SCENE):  # type: ignore[no-untyped-def]
    for state, speciality, days in scene:
        dossier = world.dossier(campaign, organisation, state, published=True)
        with transaction(session):
            dossier.speciality = speciality
            if dossier.decision is not None and days is not None:
                dossier.decision.decided_at = dossier.deposited_at + dt.timedelta(days=days)


def sql_counts(session, campaign_ids: list[int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    listed = ", ".join(str(int(i)) for i in campaign_ids)
    rows = session.execute(
        text(
            "SELECT state, count(*) FROM dossiers WHERE number IS NOT NULL "
            f"AND campaign_id IN ({listed}) GROUP BY state"
        )
    ).all()
    return dict(rows)


def test_the_figures_of_a_campaign_and_across_campaigns_equal_counts_made_in_sql(world, session):
    first = world.campaign()
    second = world.campaign(slug="normandie-asr", title="Assistants spécialistes régionaux")
    build(world, session, first, world.organisation())
    build(world, session, second, world.organisation(), SCENE[:5])
    ids = [first.id, second.id]
    stats = statistics(session, [first, second])

    # Counts by state: the brouillons are not the ARS's to count.
    assert stats.total.by_state == sql_counts(session, ids)
    assert "brouillon" not in stats.total.by_state
    assert stats.total.deposited == session.scalar(
        text(
            "SELECT count(*) FROM dossiers WHERE number IS NOT NULL "
            f"AND campaign_id IN {tuple(ids)}"
        )
    )
    assert [c.by_state for c in stats.campaigns] == [sql_counts(session, [i]) for i in ids]

    # Decisions, acceptance rate and time to decision.
    decisions = session.execute(
        text(
            "SELECT decisions.kind, dossiers.deposited_at, decisions.decided_at FROM decisions "
            "JOIN dossiers ON dossiers.id = decisions.dossier_id "
            f"WHERE dossiers.campaign_id IN {tuple(ids)}"
        )
    ).all()
    accepted = sum(1 for kind, *_ in decisions if kind == "accepte")
    assert stats.total.decided == len(decisions) == 8
    # accepte, confirme, en_poste and desiste were all accepted; the second campaign's too.
    assert stats.total.accepted == accepted == 5
    assert stats.total.refused == 2 and stats.total.sans_suite == 1
    assert stats.total.acceptance_rate == pytest.approx(accepted / len(decisions))

    # SQLite hands back naive strings: the day count is what matters.
    def day_span(start, end):  # type: ignore[no-untyped-def]
        parse = lambda v: v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)  # noqa: E731
        return (parse(end).replace(tzinfo=None) - parse(start).replace(tzinfo=None)).days

    spans = [day_span(start, end) for _, start, end in decisions]
    assert stats.total.mean_days_to_decision == pytest.approx(sum(spans) / len(spans))
    assert stats.campaigns[0].mean_days_to_decision == pytest.approx(
        (30 + 45 + 60 + 20 + 10 + 15) / 6
    )

    # Posts filled and withdrawals.
    assert (
        stats.total.filled
        == session.scalar(
            text(
                "SELECT count(*) FROM dossiers WHERE state = 'en_poste' "
                f"AND campaign_id IN {tuple(ids)}"
            )
        )
        == 1
    )
    assert stats.total.withdrawn == 1

    # By speciality, across both campaigns; a dossier without one is counted apart.
    by_speciality = {f.label: f for f in stats.specialities}
    sql = dict(
        session.execute(
            text(
                "SELECT coalesce(speciality, 'Spécialité non renseignée'), count(*) FROM dossiers "
                f"WHERE number IS NOT NULL AND campaign_id IN {tuple(ids)} GROUP BY speciality"
            )
        ).all()
    )
    assert {label: f.deposited for label, f in by_speciality.items()} == sql
    assert by_speciality["Psychiatrie"].filled == 1 and by_speciality["Psychiatrie"].withdrawn == 1
    assert by_speciality["Dermatologie"].acceptance_rate == pytest.approx(2 / 4)


# Two groups of the commission's own format (workflow/campaigns/commission.py).
COMMISSION = {
    "group_by": "identification.specialite",
    "groups": [{"value": "Dermatologie", "posts": 2}, {"value": "Psychiatrie", "posts": 3}],
}


def test_funded_posts_are_read_from_the_commission_or_are_not_given(world, session):
    # The seed campaigns say nothing of funded posts: « non renseigné ».
    campaign = world.campaign()
    assert funded_posts_of(session, campaign) == (None, {})
    build(world, session, campaign, world.organisation())
    stats = statistics(session, [campaign])
    assert stats.total.funded is None and stats.groups == []
    assert "non renseigné" in statistics_csv(stats).decode("utf-8-sig")
    # A campaign file's groups, then an administrator's change (« Postes financés »).
    funded = world.campaign(slug="avec-commission", commission=COMMISSION)
    assert funded_posts_of(session, funded) == (5, {"Dermatologie": 2, "Psychiatrie": 3})
    administrateur = world.actor("administrateur")
    with transaction(session):
        set_funded_posts(
            session,
            funded,
            administrateur,
            None,
            {"Dermatologie": 1, "Psychiatrie": 3},
            "Un financement retiré par la région.",
        )
    assert funded_posts_of(session, funded) == (4, {"Dermatologie": 1, "Psychiatrie": 3})


def test_funded_and_filled_posts_by_group(world, session):
    campaign = world.campaign(commission=COMMISSION)
    build(world, session, campaign, world.organisation())
    stats = statistics(session, [campaign])
    groups = {g.label: g for g in stats.groups}
    assert (groups["Psychiatrie"].funded, groups["Psychiatrie"].filled) == (3, 1)
    assert (groups["Dermatologie"].funded, groups["Dermatologie"].accepted) == (2, 1)
    assert stats.total.funded == 5


def test_the_csv_holds_the_same_figures_and_no_formula(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    build(world, session, campaign, hospital)
    dossier = world.dossier(campaign, hospital, "en_instruction")
    with transaction(session):
        dossier.speciality = '=HYPERLINK("http://example.org","x")'
    stats = statistics(session, [campaign])
    rows = list(csv.reader(io.StringIO(statistics_csv(stats).decode("utf-8-sig")), delimiter=";"))
    header, lines = rows[0], rows[1:]
    assert header[:3] == ["Niveau", "Libellé", "Dossiers déposés"]
    total = dict(zip(header, lines[-1], strict=True))
    assert total["Niveau"] == "Total"
    assert int(total["Dossiers déposés"]) == stats.total.deposited == 9
    assert total["Acceptés"] == "4" and total["Postes pourvus"] == "1"
    assert total["Taux d'acceptation"] == "66,7 %"
    assert total["Désistements"] == "1"
    labels = [line[1] for line in lines]
    assert '\'=HYPERLINK("http://example.org","x")' in labels
    assert not any(label.startswith("=") for label in labels)


def test_an_instructeur_sees_the_figures_of_the_campaigns_it_follows_only(
    world, session, client, auth
):
    followed = world.campaign(title="Assistants spécialistes partagés (suivie)")
    other = world.campaign(slug="autre", title="Campagne de Normandie")
    build(world, session, followed, world.organisation())
    build(world, session, other, world.organisation())
    instructeur = world.user("instructeur")
    administrateur = world.actor("administrateur")
    with transaction(session):
        follow(session, instructeur, followed, administrateur)
    auth.login(instructeur)
    page = client.get("/instruction/statistiques")
    assert page.status_code == 200
    assert "Assistants spécialistes partagés (suivie)" in page.text
    assert "Campagne de Normandie" not in page.text
    assert 'id="tableau-etats"' in page.text and 'id="total-deposes">8<' in page.text
    data = client.get("/instruction/statistiques.csv").data.decode("utf-8-sig")
    assert "Campagne de Normandie" not in data
    assert client.get(f"/instruction/campagnes/{other.slug}/statistiques").status_code == 404
    assert client.get(f"/instruction/campagnes/{other.slug}/statistiques.csv").status_code == 404
    own = client.get(f"/instruction/campagnes/{followed.slug}/statistiques")
    assert own.status_code == 200
    assert 'id="taux-acceptation">66,7 %<' in own.text and "<bar-chart" in own.text
    # An administrateur sees every campaign.
    auth.login(world.user("administrateur"))
    assert "Campagne de Normandie" in client.get("/instruction/statistiques").text


def test_the_page_reads_without_the_chart_components(world, session, client, auth, app):
    campaign = world.campaign()
    build(world, session, campaign, world.organisation())
    app.config["DSFR_CHART_DIR"] = None
    auth.login(world.user("administrateur"))
    page = client.get(f"/instruction/campagnes/{campaign.slug}/statistiques").text
    assert "<bar-chart" not in page and 'id="tableau-specialites"' in page
