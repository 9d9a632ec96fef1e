"""Demo accounts for `make run`, so that a newcomer can sign in and deposit at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.models import Campaign, Organisation, User
from workflow.people.passwords import hash_password
from workflow.plumbing import clock


@dataclass(frozen=True)
class DemoAccount:
    email: str
    password: str
    role: str
    organisation: dict[str, str] | None
    note: str


# Identifiers are real-format and pass their check keys (FINESS 010000156, SIRET of a real
# clinic from the public FINESS data); the names say plainly that these are demo accounts.
ACCOUNTS = (
    DemoAccount(
        "bam@demo.postes-partages.fr",
        "Demo-Deposant-2026",
        "deposant",
        {
            "type": "etablissement_sante",
            "name": "Centre hospitalier (démo)",
            "finess": "010000156",
            "postal_code": "01000",
            "city": "Bourg-en-Bresse",
        },
        "déposant : Bureau des Affaires Médicales d'un hôpital (campagnes ASP, MGVH, ASR)",
    ),
    DemoAccount(
        "dumg@demo.postes-partages.fr",
        "Demo-Universite-2026",
        "deposant",
        {
            "type": "universite",
            "name": "Université (démo) — DUMG",
            "siret": "77220148900022",
            "postal_code": "75006",
            "city": "Paris",
        },
        "déposant : université (campagne AUMG)",
    ),
    DemoAccount(
        "candidat@demo.postes-partages.fr",
        "Demo-Candidat-2026",
        "deposant",
        {"type": "candidat", "name": "Candidat (démo)"},
        "déposant : candidat (campagne ASP Normandie)",
    ),
    DemoAccount(
        "instructeur@demo.postes-partages.fr",
        "Demo-Instructeur-2026",
        "instructeur",
        None,
        "instructeur ARS (suit les campagnes de démonstration)",
    ),
    DemoAccount(
        "admin@demo.postes-partages.fr",
        "Demo-Admin-2026",
        "administrateur",
        None,
        "administrateur ARS",
    ),
)


def ensure_demo_accounts(session: Session) -> list[DemoAccount]:
    """Creates the demo accounts that do not exist yet; existing ones are left as they are.
    The demo instructeur follows every demo campaign loaded so far."""
    for account in ACCOUNTS:
        if session.scalar(select(User).where(User.email == account.email)):
            continue
        organisation = None
        if account.organisation:
            organisation = Organisation(**account.organisation)
            session.add(organisation)
            session.flush()
        session.add(
            User(
                email=account.email,
                password_hash=hash_password(account.password),
                role=account.role,
                organisation_id=organisation.id if organisation else None,
                email_confirmed_at=clock.now(),
            )
        )
    session.flush()
    _follow_demo_campaigns(session)
    return list(ACCOUNTS)


def _follow_demo_campaigns(session: Session) -> None:
    from workflow.administration.instructors import followed_ids, set_followed
    from workflow.people.actors import Actor

    instructors = [a.email for a in ACCOUNTS if a.role == "instructeur"]
    demos = set(session.scalars(select(Campaign.id).where(Campaign.demo.is_(True))))
    actor = Actor("administrateur", None, None, "démonstration")
    for user in session.scalars(select(User).where(User.email.in_(instructors))):
        current = followed_ids(session, user.id)
        if demos - current:
            set_followed(session, user, current | demos, actor)
