"""Instructeur accounts and the campaigns they follow: an instructeur sees only those, an
administrateur sees every campaign; only an administrateur creates, deactivates and assigns."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.administration.demo import ensure_demo_accounts
from workflow.administration.instructors import (
    create_instructor,
    follow,
    followers,
    has_password,
    instructors,
    may_instruct,
    resend_invitation,
    set_active,
    set_followed,
    visible_campaigns,
)
from workflow.mail.sender import parse_smtp_url, send_pending
from workflow.mail.templates import render
from workflow.models import AuditEvent, CampaignInstructor, OutboxMail, User
from workflow.people.accounts import INVITATION, user_for_token
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused

SECRET = "test-secret"


def test_an_instructeur_sees_only_the_campaigns_it_follows(world, session):
    followed = world.campaign(slug="suivie")
    other = world.campaign(slug="autre")
    admin = world.actor("administrateur")
    instructeur = world.user("instructeur")
    with transaction(session):
        assert follow(session, instructeur, followed, admin) is True
        assert follow(session, instructeur, followed, admin) is False
    assert [c.slug for c in visible_campaigns(session, instructeur)] == ["suivie"]
    assert may_instruct(session, instructeur, followed.id)
    assert not may_instruct(session, instructeur, other.id)
    assert followers(session, followed.id) == [instructeur]


def test_an_administrateur_sees_every_campaign_and_a_deposant_none(world, session):
    world.campaign(slug="une")
    world.campaign(slug="deux")
    admin = world.user("administrateur")
    deposant = world.user("deposant", world.organisation())
    assert {c.slug for c in visible_campaigns(session, admin)} == {"une", "deux"}
    assert visible_campaigns(session, deposant) == []
    campaign_id = visible_campaigns(session, admin)[0].id
    assert may_instruct(session, admin, campaign_id)
    assert not may_instruct(session, deposant, campaign_id)


def test_the_followed_campaigns_are_set_exactly_and_each_change_is_audited(world, session):
    a, b, c = (world.campaign(slug=s) for s in ("a", "b", "c"))
    admin = world.actor("administrateur")
    instructeur = world.user("instructeur")
    with transaction(session):
        set_followed(session, instructeur, [a.id, b.id], admin)
    with transaction(session):
        added, removed = set_followed(session, instructeur, [b.id, c.id], admin)
    assert (added, removed) == ({c.id}, {a.id})
    assert {c.slug for c in visible_campaigns(session, instructeur)} == {"b", "c"}
    events = session.execute(
        select(AuditEvent.campaign_id, AuditEvent.event).order_by(AuditEvent.id)
    ).all()
    assert events == [
        (a.id, "suivre_campagne"),
        (b.id, "suivre_campagne"),
        (c.id, "suivre_campagne"),
        (a.id, "ne_plus_suivre_campagne"),
    ]


def test_only_an_administrateur_assigns_campaigns_and_only_to_an_instructeur(world, session):
    campaign = world.campaign()
    instructeur = world.user("instructeur")
    with pytest.raises(TransitionRefused, match="réservée aux administrateurs"):
        set_followed(session, instructeur, [campaign.id], world.actor("instructeur"))
    other_admin = world.user("administrateur")
    with pytest.raises(TransitionRefused, match="Seul un compte instructeur"):
        set_followed(session, other_admin, [campaign.id], world.actor("administrateur"))
    session.rollback()
    assert session.scalars(select(CampaignInstructor)).all() == []


def test_a_deactivated_instructeur_sees_nothing(world, session):
    campaign = world.campaign()
    admin = world.actor("administrateur")
    instructeur = world.user("instructeur")
    with transaction(session):
        follow(session, instructeur, campaign, admin)
        set_active(session, instructeur, False, admin)
    assert visible_campaigns(session, instructeur) == []
    assert not may_instruct(session, instructeur, campaign.id)
    with transaction(session):
        set_active(session, instructeur, True, admin)
    assert may_instruct(session, instructeur, campaign.id)


def test_only_instructeur_accounts_are_deactivated_here(world, session):
    admin = world.actor("administrateur")
    with pytest.raises(TransitionRefused, match="Seuls les comptes instructeurs"):
        set_active(session, world.user("administrateur"), False, admin)
    with pytest.raises(TransitionRefused, match="réservée aux administrateurs"):
        set_active(session, world.user("instructeur"), False, world.actor("instructeur"))


def test_a_new_instructeur_receives_a_link_to_choose_its_password(world, session, smtp_server):
    campaign = world.campaign()
    admin = world.actor("administrateur")
    with transaction(session):
        user = create_instructor(
            session,
            " Claire.Martin@ARS.sante.fr ",
            "  Claire   Martin ",
            admin,
            secret_key=SECRET,
            campaign_ids=[campaign.id],
            now=at_paris(2026, 2, 1),
        )
    assert (user.email, user.full_name, user.role) == (
        "claire.martin@ars.sante.fr",
        "Claire Martin",
        "instructeur",
    )
    assert not has_password(user)
    assert instructors(session) == [user]
    assert may_instruct(session, user, campaign.id)
    (mail,) = session.scalars(select(OutboxMail)).all()
    rendered = render(session, mail, "https://pp.example.fr")
    assert rendered.subject == "Votre compte instructeur — Postes partagés"
    assert "Bonjour Claire Martin," in rendered.text
    assert "https://pp.example.fr/compte/invitation/" in rendered.text
    token = mail.context["token"]
    assert user_for_token(session, token, INVITATION, secret_key=SECRET).id == user.id

    from workflow.plumbing.db import make_session_factory

    report = send_pending(
        make_session_factory(session.get_bind()),
        parse_smtp_url(smtp_server.url),
        mail_from="ars@example.fr",
        base_url="https://pp.example.fr",
        now=at_paris(2026, 2, 1),
    )
    assert len(report.sent) == 1
    (message,) = smtp_server.to("claire.martin@ars.sante.fr")
    html = message.get_body(("html",)).get_content()
    assert "https://pp.example.fr/compte/invitation/" in html


def test_an_instructeur_account_needs_a_name_and_a_new_address(world, session):
    admin = world.actor("administrateur")
    taken = world.user("instructeur")
    with pytest.raises(InvalidInput) as invalid, transaction(session):
        create_instructor(session, taken.email, "", admin, secret_key=SECRET)
    assert set(invalid.value.errors) == {"email", "full_name"}
    with pytest.raises(InvalidInput) as invalid, transaction(session):
        create_instructor(session, "pas-une-adresse", "Paul", admin, secret_key=SECRET)
    assert set(invalid.value.errors) == {"email"}
    instructeur = world.actor("instructeur")
    with pytest.raises(TransitionRefused), transaction(session):
        create_instructor(session, "x@ars.fr", "X", instructeur, secret_key=SECRET)


def test_an_invitation_can_be_sent_again(world, session):
    admin = world.actor("administrateur")
    with transaction(session):
        user = create_instructor(session, "a@ars.fr", "A B", admin, secret_key=SECRET)
    with transaction(session):
        resend_invitation(session, user, admin, secret_key=SECRET)
    assert len(session.scalars(select(OutboxMail)).all()) == 2


def test_the_demo_instructeur_follows_the_demo_campaigns(world, session):
    demo = world.campaign(slug="demo-asp", demo=True)
    world.campaign(slug="reelle")
    with transaction(session):
        ensure_demo_accounts(session)
    with transaction(session):
        ensure_demo_accounts(session)  # again: nothing more
    user = session.scalar(select(User).where(User.role == "instructeur"))
    assert [c.slug for c in visible_campaigns(session, user)] == [demo.slug]
    assert len(session.scalars(select(CampaignInstructor)).all()) == 1
