"""Each seed campaign's demo copy can be filled in, volet by volet, and deposited through the
déposant's pages: every field type of the five forms (tables, choices, identifiers,
percentages under their rules, conditional fields) goes through the form and back."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.conftest import AuthActions, pdf_bytes
from web import create_app
from workflow.campaigns.avis_defs import AvisDef
from workflow.campaigns.schema import BoundRule, FieldType, SumRule
from workflow.campaigns.store import current_version, definition_of, store_directory
from workflow.instruction.avis_collected import answer_fields
from workflow.models import Campaign, Dossier, Organisation, OutboxMail, User
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import ROOT, make_engine, make_session_factory, transaction

DEMOS = sorted(p.stem for p in (ROOT / "campaigns").glob("demo-*.yaml"))

TYPED = {
    FieldType.TEXT: "Texte saisi pour la démonstration",
    FieldType.LONG_TEXT: "Description détaillée du projet médical partagé.\nSur deux lignes.",
    FieldType.EMAIL: "direction@partenaire.example.fr",
    FieldType.PHONE: "01 44 55 66 77",
    # A past date that the date rules accept: an internat ended less than 5 years before
    # the AUMG prise de poste, a DES obtained before the ASR prise de fonction.
    FieldType.DATE: "2024-09-01",
    FieldType.INTEGER: "3",
    FieldType.FINESS: "750100018",
    FieldType.SIRET: "77220148900022",
    FieldType.SIREN: "772201489",
    FieldType.RPPS: "10001234565",
    FieldType.POSTAL_CODE: "75013",
    FieldType.COMMUNE: "Paris",
    FieldType.YES_NO: "oui",
}
ORGANISATIONS = {
    "etablissement_sante": {"finess": "950001370"},
    "universite": {"siret": "77220148900022"},
    "structure_soins": {"siret": "77220148900022"},
    "candidat": {},
}


def percentages(definition) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Shares that satisfy the campaign's sum and bound rules (e.g. 40 % / 60 %)."""
    bounds: dict[str, tuple[float, float]] = {}
    for rule in definition.rules:
        if isinstance(rule, BoundRule):
            low, high = bounds.get(rule.field, (0, 100))
            bounds[rule.field] = (rule.value, high) if rule.kind == "min" else (low, rule.value)
    chosen: dict[str, str] = {}
    for rule in definition.rules:
        if isinstance(rule, SumRule) and len(rule.fields) == 2:
            first, second = rule.fields
            for share in (50, 40, 60, 30, 70, 20, 80):
                rest = rule.total - share
                (l1, h1), (l2, h2) = bounds.get(first, (0, 100)), bounds.get(second, (0, 100))
                if l1 <= share <= h1 and l2 <= rest <= h2:
                    chosen[first], chosen[second] = str(share), str(int(rest))
                    break
    return chosen


def volet_form(definition, volet) -> dict[str, object]:  # type: ignore[no-untyped-def]
    shares = percentages(definition)
    data: dict[str, object] = {}
    for field in volet.fields:
        if field.type is FieldType.TABLE:
            data[f"{field.key}.rows"] = "1"
            for column in field.columns:
                value = column.choices[0].value if column.choices else TYPED[column.type]
                data[f"{field.key}.0.{column.key}"] = value
        elif field.type in (FieldType.CHOICE, FieldType.MULTI_CHOICE):
            data[field.key] = field.choices[0].value
        elif field.type is FieldType.PERCENTAGE:
            data[field.key] = shares.get(f"{volet.key}.{field.key}", "50")
        else:
            data[field.key] = TYPED[field.type]
    return data


def give_avis(client, session, dossier_id: int, kind: AvisDef) -> None:  # type: ignore[no-untyped-def]
    """The avis the déposant collects before deposit (Normandie's annexes « impérativement »
    signed, ASR Annexe 12's consent): invited from « Avis et signatures », given through the
    giver's link by « je certifie »."""
    invited = client.post(
        f"/dossiers/{dossier_id}/avis/{kind.key}/inviter",
        data={"giver_name": "Dr Démonstration", "giver_email": f"{kind.key}@example.fr"},
    )
    assert invited.status_code == 302, (kind.key, invited.text[-2000:])
    session.rollback()
    mail = session.scalars(
        select(OutboxMail)
        .where(OutboxMail.template == "invitation_avis")
        .order_by(OutboxMail.id.desc())
    ).first()
    answer = {
        "signature_mode": "certification",
        "certifie": "oui",
        "certified_name": "Dr Démonstration",
        "certified_function": "Chef de service",
    }
    for annex_field, names in answer_fields(kind):
        if annex_field.type == "period":
            answer |= dict(zip(names, ("2026-11-02", "2027-11-01"), strict=True))
        elif annex_field.type == "verdict":
            answer[annex_field.key] = "favorable"
        else:
            answer[annex_field.key] = "Réponse de démonstration."
    given = client.post(urlsplit(mail.context["link"]).path, data=answer)
    assert given.status_code == 302, (kind.key, given.text[-2000:])


@pytest.mark.parametrize("slug", DEMOS)
def test_the_demo_campaign_is_filled_and_deposited_through_its_pages(slug, sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    app = create_app(
        {
            "DATABASE_URL": sqlite_url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "demo-test-secret-key-long-enough-for-production",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
        }
    )
    client = app.test_client()
    try:
        with sessions() as session:
            with transaction(session):
                store_directory(session, ROOT / "campaigns", paris_date(clock.now()))
            campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
            definition = definition_of(session, current_version(session, campaign).id)
            with transaction(session):
                organisation = Organisation(
                    type=definition.depositor,
                    name="Organisation de démonstration",
                    **ORGANISATIONS[definition.depositor],
                )
                session.add(organisation)
                session.flush()
                user = User(
                    email="depot@example.fr",
                    password_hash="x",
                    role="deposant",
                    organisation_id=organisation.id,
                )
                session.add(user)
            AuthActions(client, session).login(user)

            assert client.get(f"/campagnes/{slug}").status_code == 200
            created = client.post(f"/campagnes/{slug}/dossiers")
            dossier_id = int(created.location.split("/")[2])
            for volet in definition.volets:
                url = f"/dossiers/{dossier_id}/volets/{volet.key}"
                assert client.get(url).status_code == 200, volet.key
                if volet.fields:
                    response = client.post(url, data=volet_form(definition, volet))
                    assert response.status_code == 302, (volet.key, response.text[-3000:])
            for piece in definition.pieces:
                response = client.post(
                    f"/dossiers/{dossier_id}/pieces/{piece.key}",
                    data={"fichier": (io.BytesIO(pdf_bytes(title=piece.label)), "piece.pdf")},
                    content_type="multipart/form-data",
                )
                assert response.status_code == 302, piece.key
            for kind in definition.avis:
                if kind.before_deposit and kind.required:
                    give_avis(client, session, dossier_id, kind)
            deposit = client.post(
                f"/dossiers/{dossier_id}/confirmer",
                data={
                    "action": "deposer",
                    "attestations": [a.key for a in definition.attestations],
                    "consent": "oui",
                },
            )
            assert deposit.status_code == 302, deposit.text[-3000:]
            session.rollback()
            dossier = session.get(Dossier, dossier_id)
            assert dossier.state == "en_construction" and dossier.number
            page = client.get(f"/dossiers/{dossier_id}/confirmer").get_data(as_text=True)
            assert f"Dossier n° {dossier.number} déposé" in page
            recap = client.get(f"/campagnes/{slug}/recapitulatif").get_data(as_text=True)
            assert f'id="dossier-{dossier_id}"' in recap
    finally:
        app.extensions["db_sessions"].kw["bind"].dispose()
        engine.dispose()
