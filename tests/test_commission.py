"""The selection commission: funded posts per group, opinions, ranks and scores, decisions
proposed from the quotas and applied in one transaction, and the liste complémentaire that
fills itself when a laureate leaves — on SQLite and PostgreSQL.

The seeds: « Les résultats sont consultables après le jury de sélection » (IdF ASP and MGVH
manuals), « tout dossier incomplet ne sera pas examiné par la commission régionale »
(Normandie ASP 2025)."""

from __future__ import annotations

import copy
import datetime as dt
import threading

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import COMPLETE_VALUES, World, at_paris
from workflow.commission.assessments import record_opinion, record_scores, score_summaries
from workflow.commission.groups import quotas_of, set_funded_posts
from workflow.commission.minutes import minutes_of
from workflow.commission.proposals import adjust, apply_proposals, assessment_of, propose
from workflow.commission.sessions import create_session
from workflow.commission.waitlist import (
    confirm_promotion,
    fill_vacancy,
    pending_promotions,
    promote_from_waiting_lists,
    vacancies,
)
from workflow.machine.operations import fire
from workflow.machine.publication import publish_results
from workflow.models import (
    AuditEvent,
    Campaign,
    CommissionMember,
    CommissionSession,
    Dossier,
    OutboxMail,
    Promotion,
)
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused

JURY = at_paris(2026, 5, 20, 15)
PUBLISHED = at_paris(2026, 5, 25, 10)
# Two groups, quotas 2 and 1, a scoring grid of two weighted criteria.
COMMISSION = {
    "label": "Commission régionale",
    "group_by": "identification.specialite",
    "funded_posts": 3,
    "groups": [
        {"value": "Dermatologie", "posts": 2},
        {"value": "Cardiologie", "posts": 1},
    ],
    "scoring": [
        {"key": "projet", "label": "Projet médical", "weight": 2},
        {"key": "candidat", "label": "Parcours du candidat", "weight": 1},
    ],
}


def _dossier(world: World, campaign: Campaign, speciality: str, priority: int) -> Dossier:
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    values = copy.deepcopy(COMPLETE_VALUES)
    values["identification"]["specialite"] = speciality
    with transaction(world.session):
        dossier.values = values
        dossier.speciality = speciality
        dossier.priority = priority
    return dossier


class Scene:
    """A campaign with a commission, five dossiers en instruction (three in Dermatologie,
    two in Cardiologie), an instructor and a session whose agenda holds them."""

    def __init__(self, world: World, session, derm: int = 3, **commission) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        self.campaign = world.campaign(commission={**COMMISSION, **commission})
        self.derm = [_dossier(world, self.campaign, "Dermatologie", p) for p in range(1, derm + 1)]
        self.cardio = [_dossier(world, self.campaign, "Cardiologie", p) for p in (1, 2)]
        self.instructeur = world.actor("instructeur")
        with time_machine.travel(JURY, tick=False), transaction(session):
            self.sitting = create_session(
                session, self.campaign, self.instructeur, "Commission régionale", JURY.date()
            )

    def opinion(self, dossier: Dossier, opinion: str, rank: int | None) -> None:
        with transaction(self.session):
            record_opinion(
                self.session,
                self.sitting,
                assessment_of(self.session, self.sitting, dossier.id),
                self.instructeur,
                opinion,
                f"Avis {opinion} de la commission.",
                rank,
            )

    def proposals(self) -> dict[int, str | None]:
        with transaction(self.session):
            groups = propose(self.session, self.sitting, self.instructeur)
        self.groups = groups
        return {a.dossier_id: a.proposal for g in groups for a in g.order}

    def rank_all(self) -> None:
        """Dermatologie ranked 1, 2, 3; Cardiologie 1, 2; all favorable."""
        for rank, dossier in enumerate(self.derm, 1):
            self.opinion(dossier, "favorable", rank)
        for rank, dossier in enumerate(self.cardio, 1):
            self.opinion(dossier, "favorable", rank)

    def apply_and_publish(self) -> None:
        self.proposals()
        with time_machine.travel(JURY, tick=False), transaction(self.session):
            apply_proposals(self.session, self.sitting, self.instructeur)
        with time_machine.travel(PUBLISHED, tick=False), transaction(self.session):
            publish_results(self.session, self.campaign, self.instructeur)
        self.session.expire_all()


@pytest.fixture
def scene(world, session) -> Scene:  # type: ignore[no-untyped-def]
    return Scene(world, session)


def mails(session, template: str) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(OutboxMail).where(OutboxMail.template == template)))


# --- funded posts and the agenda -----------------------------------------------------------


def test_the_campaign_file_declares_the_funded_posts_in_total_and_per_group(scene):
    quotas = quotas_of(scene.session, scene.campaign)
    assert quotas.total == 3
    assert (quotas.posts("Dermatologie"), quotas.posts("Cardiologie")) == (2, 1)


def test_an_administrator_changes_the_funded_posts_with_a_reason_kept_in_the_audit(world, scene):
    admin = world.actor("administrateur")
    with pytest.raises(TransitionRefused) as refused, transaction(scene.session):
        set_funded_posts(scene.session, scene.campaign, scene.instructeur, 4, {}, "Crédits.")
    assert "réservée aux administrateurs" in refused.value.reasons[0]
    with pytest.raises(TransitionRefused) as refused, transaction(scene.session):
        set_funded_posts(scene.session, scene.campaign, admin, 2, {"Dermatologie": 3}, "x")
    assert "dépassent le total" in refused.value.reasons[0]
    with transaction(scene.session):
        set_funded_posts(
            scene.session, scene.campaign, admin, 4, {"Dermatologie": 3}, "Crédits complémentaires."
        )
    quotas = quotas_of(scene.session, scene.campaign)
    assert (quotas.total, quotas.posts("Dermatologie"), quotas.posts("Cardiologie")) == (4, 3, 1)
    (event,) = scene.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "modifier_postes_finances")
    )
    assert event.payload["postes_avant"]["groupes"]["Dermatologie"] == 2
    assert event.payload["postes_apres"]["groupes"]["Dermatologie"] == 3
    assert event.payload["avant"] == "total 3 ; Dermatologie : 2, Cardiologie : 1"
    assert event.payload["apres"] == "total 4 ; Dermatologie : 3, Cardiologie : 1"
    assert event.payload["motif"] == "Crédits complémentaires."


def test_the_agenda_groups_the_dossiers_en_instruction_in_the_deposants_order(scene):
    from workflow.commission.sessions import agenda

    groups = agenda(scene.session, scene.sitting)
    assert [(g.label, g.funded_posts) for g in groups] == [
        ("Cardiologie", 1),
        ("Dermatologie", 2),
    ]
    assert [r.dossier.id for r in groups[1].rows] == [d.id for d in scene.derm]
    (creator,) = scene.sitting.members
    assert creator.user_id == scene.instructeur.user_id


def test_an_opinion_needs_its_reason_and_is_audited(scene):
    assessment = assessment_of(scene.session, scene.sitting, scene.derm[0].id)
    with pytest.raises(InvalidInput) as refused, transaction(scene.session):
        record_opinion(
            scene.session, scene.sitting, assessment, scene.instructeur, "favorable", " ", 1
        )
    assert "motif de l'avis est obligatoire" in refused.value.message
    scene.opinion(scene.derm[0], "favorable", 1)
    (event,) = scene.session.scalars(
        select(AuditEvent).where(AuditEvent.event == "avis_commission")
    )
    assert (event.dossier_id, event.payload["rang"], event.payload["avis_commission"]) == (
        scene.derm[0].id,
        1,
        "favorable",
    )


# --- scores ----------------------------------------------------------------------------------


def test_each_member_scores_and_the_page_gets_the_mean_and_the_spread(scene, world):
    with transaction(scene.session):
        other = CommissionMember(
            session_id=scene.sitting.id, name="Dr Invitée", quality="membre invité", email="x@y.fr"
        )
        scene.session.add(other)
    (creator,) = [m for m in scene.sitting.members if m.user_id]
    commission = scene.campaign_definition = None
    from workflow.commission.groups import commission_of

    _, commission = commission_of(scene.session, scene.campaign)
    target = scene.derm[0].id
    with transaction(scene.session):
        # Weighted (2, 1) on 20: (2×16 + 1×10) / 3 = 14
        record_scores(
            scene.session, scene.sitting, creator, commission, target,
            {"projet": 16, "candidat": 10}, scene.instructeur,
        )  # fmt: skip
    with transaction(scene.session):
        # (2×10 + 1×10) / 3 = 10
        record_scores(
            scene.session, scene.sitting, other, commission, target,
            {"projet": 10, "candidat": 10}, scene.instructeur,
        )  # fmt: skip
    summary = score_summaries(scene.session, scene.sitting, commission)[target]
    assert sorted(summary.by_member.values()) == [10.0, 14.0]
    assert (summary.mean, summary.spread) == (12.0, 2.0)
    with pytest.raises(InvalidInput) as refused, transaction(scene.session):
        record_scores(
            scene.session, scene.sitting, other, commission, target,
            {"projet": 21}, scene.instructeur,
        )  # fmt: skip
    assert "va de 0 à 20" in refused.value.message
    assert "« Parcours du candidat » est obligatoire" in refused.value.message
    audited = scene.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.event == "noter_dossier")
    )
    assert audited == 2


# --- proposals -------------------------------------------------------------------------------


def test_the_session_proposes_the_first_n_of_each_group_then_the_waiting_list(scene):
    d1, d2, d3 = scene.derm
    c1, c2 = scene.cardio
    scene.rank_all()
    assert scene.proposals() == {
        d1.id: "accepte",
        d2.id: "accepte",
        d3.id: "liste_complementaire",
        c1.id: "accepte",
        c2.id: "liste_complementaire",
    }


def test_a_defavorable_or_unranked_dossier_is_proposed_refused(scene):
    d1, d2, d3 = scene.derm
    scene.opinion(d1, "defavorable", None)
    scene.opinion(d2, "favorable", 1)
    scene.opinion(d3, "liste_complementaire", 2)
    proposals = scene.proposals()
    # Dermatologie's second post stays free: the commission wanted d3 on the waiting list.
    assert [proposals[d.id] for d in scene.derm] == ["refuse", "accepte", "liste_complementaire"]
    assert [proposals[d.id] for d in scene.cardio] == ["refuse", "refuse"]


def test_dossiers_ex_aequo_are_settled_by_their_mean_score_and_the_proposal_says_so(scene):
    from workflow.commission.groups import commission_of

    d1, d2, d3 = scene.derm
    _, commission = commission_of(scene.session, scene.campaign)
    (member,) = scene.sitting.members
    scene.opinion(d1, "favorable", 1)
    scene.opinion(d2, "favorable", 2)
    scene.opinion(d3, "favorable", 2)
    for dossier, mark in ((d2, 11), (d3, 15)):
        with transaction(scene.session):
            record_scores(
                scene.session, scene.sitting, member, commission, dossier.id,
                {"projet": mark, "candidat": mark}, scene.instructeur,
            )  # fmt: skip
    proposals = scene.proposals()
    assert [proposals[d.id] for d in scene.derm] == ["accepte", "liste_complementaire", "accepte"]
    (derm,) = [g for g in scene.groups if g.value == "Dermatologie"]
    assert derm.ties == [
        # In the order settled: d3's mean (15) before d2's (11).
        f"Dossiers n° {d3.number} et n° {d2.number} ex æquo au rang 2 : "
        "départagés par la note moyenne."
    ]


def test_without_scores_dossiers_ex_aequo_follow_the_deposants_priority(scene):
    d1, d2, d3 = scene.derm
    scene.opinion(d3, "favorable", 1)
    scene.opinion(d2, "favorable", 1)
    scene.opinion(d1, "favorable", 1)
    proposals = scene.proposals()
    assert [proposals[d.id] for d in scene.derm] == ["accepte", "accepte", "liste_complementaire"]
    (derm,) = [g for g in scene.groups if g.value == "Dermatologie"]
    assert "départagés par l'ordre de priorité du déposant" in derm.ties[0]


def test_the_instructor_adjusts_a_proposal_only_with_a_motivation_and_it_is_kept(scene):
    d1, d2, d3 = scene.derm
    scene.rank_all()
    scene.proposals()
    assessment = assessment_of(scene.session, scene.sitting, d3.id)
    with pytest.raises(InvalidInput), transaction(scene.session):
        adjust(scene.session, scene.sitting, assessment, scene.instructeur, "refuse", "")
    with transaction(scene.session):
        adjust(
            scene.session, scene.sitting, assessment, scene.instructeur, "refuse",
            "Candidat retenu dans une autre région.",
        )  # fmt: skip
    assert scene.proposals()[d3.id] == "refuse"  # proposing again keeps the adjustment


def test_applying_decides_every_dossier_in_one_transaction(scene):
    d1, d2, d3 = scene.derm
    scene.rank_all()
    scene.proposals()
    with time_machine.travel(JURY, tick=False), transaction(scene.session):
        applied = apply_proposals(scene.session, scene.sitting, scene.instructeur)
    assert (applied.accepted, applied.waiting, applied.refused) == (3, 2, 0)
    scene.session.expire_all()
    assert [d.state for d in scene.derm] == ["accepte", "accepte", "liste_complementaire"]
    assert d3.decision.kind == "liste_complementaire"
    assert "rang 3 pour 2 poste(s) financé(s)" in d3.decision.motivation
    # Grouped publication: no mail before the results are published.
    assert scene.session.scalars(select(OutboxMail)).all() == []


def test_one_dossier_out_of_instruction_and_nothing_is_applied(scene):
    scene.rank_all()
    scene.proposals()
    with time_machine.travel(JURY, tick=False), transaction(scene.session):
        fire(
            scene.session, scene.cardio[1], "demander_corrections", scene.instructeur,
            {"message": "Joindre le CV signé.", "due_date": dt.date(2026, 12, 1)},
        )  # fmt: skip
    with (
        time_machine.travel(JURY, tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(scene.session),
    ):
        apply_proposals(scene.session, scene.sitting, scene.instructeur)
    assert f"Dossier n° {scene.cardio[1].number} : il n'est plus en instruction." in (
        refused.value.reasons
    )
    scene.session.expire_all()
    assert [d.state for d in scene.derm] == ["en_instruction"] * 3
    assert scene.session.get(CommissionSession, scene.sitting.id).applied_at is None


def test_publication_sends_the_waiting_list_its_own_mail(scene):
    scene.rank_all()
    scene.apply_and_publish()
    waiting = {m.dossier_id for m in mails(scene.session, "liste_complementaire")}
    decided = {m.dossier_id for m in mails(scene.session, "decision_accepte")}
    assert waiting == {scene.derm[2].id, scene.cardio[1].id}
    assert decided == {scene.derm[0].id, scene.derm[1].id, scene.cardio[0].id}


def test_the_minutes_hold_the_groups_ranks_opinions_and_decisions(scene):
    scene.rank_all()
    scene.apply_and_publish()
    minutes = minutes_of(scene.session, scene.sitting.id)
    assert minutes.title == "Commission régionale"
    assert minutes.held_on == JURY.date()
    assert minutes.campaign_title == scene.campaign.title
    assert len(minutes.members_present) == 1
    assert minutes.members_present[0].endswith("(instructeur ARS)")
    derm = next(g for g in minutes.groups if g.label == "Dermatologie")
    assert derm.funded_posts == 2
    assert [(r.number, r.rank, r.opinion, r.decision) for r in derm.rows] == [
        (str(scene.derm[0].number), 1, "Favorable", "Accepté"),
        (str(scene.derm[1].number), 2, "Favorable", "Accepté"),
        (str(scene.derm[2].number), 3, "Favorable", "Liste complémentaire"),
    ]
    assert derm.rows[0].candidate == "Lambourde Peggy"


# --- the waiting list fills itself -----------------------------------------------------------


def withdraw(scene: Scene, world: World, dossier: Dossier) -> None:
    deposant = world.actor("deposant", dossier.organisation)
    with time_machine.travel(at_paris(2026, 6, 10), tick=False), transaction(scene.session):
        fire(scene.session, dossier, "desister", deposant, {"reason": "Le candidat renonce."})


def test_a_laureate_who_withdraws_is_replaced_by_the_first_of_the_waiting_list(
    scene, world, sessions
):
    scene.rank_all()
    scene.apply_and_publish()
    withdraw(scene, world, scene.derm[0])
    now = at_paris(2026, 6, 10, 12)
    with time_machine.travel(now, tick=False):
        done = promote_from_waiting_lists(sessions, now)
    assert done == [f"promotion:{scene.derm[0].id}:{scene.derm[2].id}"]
    scene.session.expire_all()
    promoted = scene.session.get(Dossier, scene.derm[2].id)
    assert promoted.state == "accepte"
    assert promoted.decision.kind == "accepte"
    assert f"Poste libéré par le dossier n° {scene.derm[0].number}" in (
        promoted.decision.motivation
    )
    recipients = sorted(m.recipient for m in mails(scene.session, "promotion_liste_complementaire"))
    assert "ars-idf-asp@ars.sante.fr" in recipients  # the ARS contact told
    assert "dam@chu-la-pyte.fr" in recipients  # and the partner
    from workflow.mail.templates import render

    text = render(scene.session, mails(scene.session, "promotion_liste_complementaire")[0]).text
    assert f"le dossier n° {scene.derm[2].number}, inscrit sur la liste complémentaire" in text
    assert "du 1er octobre 2026 au 31 octobre 2026 ou, si cette période est déjà entamée" in text
    # Cardiologie's waiting list is untouched: its laureate did not leave.
    assert scene.session.get(Dossier, scene.cardio[1].id).state == "liste_complementaire"
    # Run again: nothing more.
    assert promote_from_waiting_lists(sessions, now) == []
    assert len(mails(scene.session, "promotion_liste_complementaire")) == len(recipients)


def test_two_concurrent_sweeps_promote_exactly_once(scene, world, sessions):
    scene.rank_all()
    scene.apply_and_publish()
    withdraw(scene, world, scene.cardio[0])
    now = at_paris(2026, 6, 11, 9)
    start = threading.Barrier(2)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait()
            results.append(promote_from_waiting_lists(sessions, now))
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 1]
    scene.session.expire_all()
    assert scene.session.get(Dossier, scene.cardio[1].id).state == "accepte"
    assert scene.session.scalar(select(func.count()).select_from(Promotion)) == 1
    promoted_mails = mails(scene.session, "promotion_liste_complementaire")
    assert {m.dossier_id for m in promoted_mails} == {scene.cardio[1].id}
    assert len(promoted_mails) == len({m.recipient for m in promoted_mails})


def test_a_sweep_that_found_the_vacancy_before_another_promoted_changes_nothing(
    world, session, sessions
):
    """The race in slow motion: sweep B reads the free post, sweep A promotes and commits,
    then B tries with what it read, and would promote the next of the list: the unique freed
    post stops it."""
    from sqlalchemy.exc import IntegrityError

    # Four in Dermatologie: two on its waiting list, so that B would have someone to promote.
    scene = Scene(world, session, derm=4)
    scene.rank_all()
    scene.apply_and_publish()
    withdraw(scene, world, scene.derm[1])
    now = at_paris(2026, 6, 12, 9)
    with sessions() as b:
        with transaction(b, write=False):
            campaign_b = b.get(Campaign, scene.campaign.id)
            (stale,) = vacancies(b, campaign_b, now)
        assert promote_from_waiting_lists(sessions, now) != []
        with pytest.raises(IntegrityError), transaction(b):
            fill_vacancy(b, b.get(Campaign, scene.campaign.id), stale, now)
    scene.session.expire_all()
    assert scene.session.scalar(select(func.count()).select_from(Promotion)) == 1
    assert {m.dossier_id for m in mails(scene.session, "promotion_liste_complementaire")} == {
        scene.derm[2].id
    }
    assert scene.session.get(Dossier, scene.derm[3].id).state == "liste_complementaire"


def test_a_maintien_window_passed_without_confirmation_frees_the_post(scene, world, sessions):
    """« du 1er au 31 octobre » the maintien is confirmed; a laureate silent until then
    leaves its post to the waiting list on 1 November."""
    scene.rank_all()
    scene.apply_and_publish()
    d1, d2, d3 = scene.derm
    c1, c2 = scene.cardio
    for dossier in (d1, d2, c1):
        if dossier is d2:
            continue  # d2 never confirms
        deposant = world.actor("deposant", dossier.organisation)
        with time_machine.travel(at_paris(2026, 10, 15), tick=False), transaction(scene.session):
            fire(scene.session, dossier, "confirmer_maintien", deposant)
    last_day = at_paris(2026, 10, 31, 20)
    assert promote_from_waiting_lists(sessions, last_day) == []
    next_day = at_paris(2026, 11, 1, 8)
    assert promote_from_waiting_lists(sessions, next_day) == [f"promotion:{d2.id}:{d3.id}"]
    scene.session.expire_all()
    promoted = scene.session.get(Dossier, d3.id)
    assert promoted.state == "accepte"
    (promotion,) = scene.session.scalars(select(Promotion))
    assert promotion.cause == "maintien_non_confirme"
    # The promoted laureate confirms in the 15 days that follow its promotion.
    deposant = world.actor("deposant", promoted.organisation)
    with time_machine.travel(at_paris(2026, 11, 10), tick=False), transaction(scene.session):
        fire(scene.session, promoted, "confirmer_maintien", deposant)
    assert promoted.state == "confirme"
    # And it is not taken for a lapsed laureate meanwhile: nothing else moves.
    assert promote_from_waiting_lists(sessions, at_paris(2026, 11, 5)) == []


def test_a_campaign_that_asks_for_it_waits_for_an_instructors_confirmation(
    world, session, sessions
):
    scene = Scene(world, session, promotion="confirmed")
    scene.rank_all()
    scene.apply_and_publish()
    withdraw(scene, world, scene.derm[0])
    now = at_paris(2026, 6, 10, 12)
    assert promote_from_waiting_lists(sessions, now) == [
        f"promotion:{scene.derm[0].id}:{scene.derm[2].id}"
    ]
    assert promote_from_waiting_lists(sessions, now) == []
    session.expire_all()
    assert session.get(Dossier, scene.derm[2].id).state == "liste_complementaire"
    assert mails(session, "promotion_liste_complementaire") == []
    (pending,) = pending_promotions(session, scene.campaign)
    with time_machine.travel(now, tick=False), transaction(session):
        confirm_promotion(session, pending, scene.instructeur)
    session.expire_all()
    assert session.get(Dossier, scene.derm[2].id).state == "accepte"
    assert {m.dossier_id for m in mails(session, "promotion_liste_complementaire")} == {
        scene.derm[2].id
    }
    with pytest.raises(TransitionRefused), transaction(session):
        confirm_promotion(session, pending, scene.instructeur)


def test_a_post_freed_beyond_the_quota_promotes_nobody(scene, world, sessions):
    """Three laureates in Dermatologie for two funded posts (an instructor accepted one more
    by hand): one withdrawing leaves the two posts filled."""
    scene.rank_all()
    with transaction(scene.session):
        adjust(
            scene.session,
            scene.sitting,
            assessment_of(scene.session, scene.sitting, scene.derm[2].id),
            scene.instructeur,
            "accepte",
            "Crédits régionaux complémentaires.",
        )
    scene.apply_and_publish()
    # Cardiologie keeps its own list: nothing to do there.
    withdraw(scene, world, scene.derm[0])
    assert promote_from_waiting_lists(sessions, at_paris(2026, 6, 10, 12)) == []
