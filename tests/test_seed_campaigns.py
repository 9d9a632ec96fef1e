"""The five seed campaigns (`campaigns/*.yaml`) say what their documents say.

Each campaign file transcribes one real document of ../shared/seeds/: an Île-de-France
operating manual or a Normandie application form. These tests load the files and check them
against facts read in the documents, and run the completeness check on a few dossiers.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from workflow.campaigns.completeness import completeness
from workflow.campaigns.loader import load_campaign_file
from workflow.campaigns.schema import BoundRule, Campaign, OneOfRule, SumRule
from workflow.plumbing.identifiers import luhn_valid

CAMPAIGNS = Path(__file__).resolve().parent.parent / "campaigns"
# shared/ lies beside the repository (CI clones main into another folder with a copy of it).
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

SEED_OF = {
    "idf-asp-vague6": "idf-asp-vague6-mode-operatoire.txt",
    "idf-mgvh-2020": "idf-mgvh-2020-mode-operatoire.txt",
    "idf-aumg-vague12": "idf-aumg-vague12-mode-operatoire.txt",
    "normandie-asp-2025": "normandie-asp-2025-dossier.txt",
    "normandie-asr-2026": "normandie-asr-2026-dossier.txt",
}


def load(slug: str) -> Campaign:
    return load_campaign_file(CAMPAIGNS / f"{slug}.yaml")


def titles(campaign: Campaign) -> list[str]:
    return [volet.title for volet in campaign.volets]


def rules_of(campaign: Campaign, kind: type) -> list[Any]:
    return [rule for rule in campaign.rules if isinstance(rule, kind)]


def with_luhn_key(prefix: str) -> str:
    """`prefix` followed by the digit that makes the whole number pass the Luhn key."""
    return next(prefix + str(d) for d in range(10) if luhn_valid(prefix + str(d)))


# --- every seed campaign ---------------------------------------------------------------------


@pytest.mark.parametrize("slug", SEED_OF)
def test_each_campaign_loads_and_names_its_seed_document(slug: str) -> None:
    campaign = load(slug)
    assert campaign.slug == slug
    first_line = (CAMPAIGNS / f"{slug}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("#") and SEED_OF[slug] in first_line
    assert campaign.opens < campaign.deadline


@pytest.mark.parametrize("slug", SEED_OF)
def test_the_recap_names_partner_and_candidate_and_mails_the_partner(slug: str) -> None:
    summary = load(slug).summary
    assert summary.partner_name and summary.candidate_name
    assert summary.partner_email is not None
    assert load(slug).field(summary.partner_email).type == "email"


@pytest.mark.parametrize("slug", SEED_OF)
def test_every_model_document_exists_and_is_a_word_file(slug: str) -> None:
    campaign = load(slug)
    for piece in campaign.pieces:
        if piece.model:
            path = CAMPAIGNS / piece.model
            assert path.is_file(), f"{slug}: {piece.model} is missing"
            assert path.suffix == ".docx"
            assert "word/document.xml" in zipfile.ZipFile(path).namelist()


@pytest.mark.parametrize("slug", SEED_OF)
def test_every_campaign_asks_for_a_data_protection_consent(slug: str) -> None:
    campaign = load(slug)
    if slug == "normandie-asr-2026":
        # Issue #14: ASR Annexe 12's consent is the candidate's (« les données personnelles
        # me concernant »): the candidate gives it through their own link, deposit waits.
        consent = next(a for a in campaign.avis if a.key == "consentement_candidat")
        assert consent.giver == "candidat" and consent.required and consent.before_deposit
        assert campaign.consent is None
        return
    assert campaign.consent
    report = completeness(campaign, {})
    assert "Le consentement au traitement des données personnelles est à cocher." in (
        report.messages()
    )


@pytest.mark.parametrize("slug", SEED_OF)
def test_the_warning_on_incomplete_dossiers_is_the_documents_own(slug: str) -> None:
    rules_text = load(slug).rules_text
    assert "incomplet" in rules_text
    seed = SEEDS / SEED_OF[slug]
    if seed.exists():
        assert rules_text.lower() in seed.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("slug", SEED_OF)
def test_demo_copy_is_open_on_the_day_it_is_loaded(slug: str) -> None:
    base = load(slug)
    demo = load_campaign_file(CAMPAIGNS / f"demo-{slug}.yaml")
    today = dt.date.today()
    assert demo.slug == f"demo-{slug}" and demo.title == f"[Démo] {base.title}"
    assert demo.opens < today < demo.deadline
    assert len(demo.start_dates) == len(base.start_dates)
    assert list(demo.start_dates) == sorted(demo.start_dates)
    assert (demo.confirmation_window is None) == (base.confirmation_window is None)
    assert demo.volets == base.volets and demo.pieces == base.pieces


# --- Île-de-France, assistants spécialistes partagés, vague 6 -------------------------------


def test_asp_idf_closes_on_20_march_2019_with_the_manuals_tabs_in_order() -> None:
    campaign = load("idf-asp-vague6")
    assert campaign.deadline == dt.date(2019, 3, 20)
    assert titles(campaign) == [
        "Identification",
        "Projet médical",
        "Profil poste",
        "Perspectives de carrière",
        "Candidat",
    ]
    assert campaign.depositor == "etablissement_sante"
    assert campaign.publication == "grouped"


def test_asp_idf_asks_in_october_to_confirm_and_from_2_november_to_take_the_post() -> None:
    campaign = load("idf-asp-vague6")
    window = campaign.confirmation_window
    assert window is not None
    assert (window.start, window.end) == (dt.date(2019, 10, 1), dt.date(2019, 10, 31))
    assert campaign.start_dates == (dt.date(2019, 11, 2),)


def test_asp_idf_decision_screen_fields_exist_for_both_establishments() -> None:
    identification = load("idf-asp-vague6").volet("identification")
    labels = [f.label for f in identification.fields]
    for side in ("Etablissement de santé recruteur", "Etablissement de santé partenaire"):
        for item in ("Nom", "CP", "Ville", "Directeur de l'établissement", "Spécialité"):
            assert f"{side} — {item}" in labels


def test_asp_idf_candidate_needs_an_rpps_or_a_planned_registration_date() -> None:
    campaign = load("idf-asp-vague6")
    (rule,) = rules_of(campaign, OneOfRule)
    assert set(rule.fields) == {"candidat.rpps", "candidat.date_previsionnelle_inscription"}
    values = {"candidat": {"nom": "LAMBOURDE", "prenom": "Peggy"}}
    assert rule.message in completeness(campaign, values).messages()
    values["candidat"]["date_previsionnelle_inscription"] = "2019-09-01"
    assert rule.message not in completeness(campaign, values).messages()


def test_asp_idf_offers_the_avis_tabs_of_the_dossier() -> None:
    (avis,) = load("idf-asp-vague6").avis
    assert avis.giver == "coordonnateur"


def test_asp_idf_dossier_filled_in_full_is_complete() -> None:
    campaign = load("idf-asp-vague6")
    establishment = {"cp": "95500", "ville": "Gonesse", "directeur": "Mme C"}
    identification = {
        "recruteur_nom": "Centre Hospitalier de Gonesse",
        "recruteur_finess": with_luhn_key("95000012"),
        "partenaire_nom": "CHU LA PYTE",
        "partenaire_finess": with_luhn_key("75000023"),
        "partenaire_email": "direction@chu-la-pyte.fr",
        "recruteur_specialite": "Dermatologie et vénéréologie",
        "partenaire_specialite": "Dermatologie et vénéréologie",
    }
    for side in ("recruteur", "partenaire"):
        identification |= {f"{side}_{key}": value for key, value in establishment.items()}
    values = {
        "identification": identification,
        "projet_medical": {"nature_projet": "Consultations partagées de dermatologie."},
        "profil_poste": {"teneur_poste": "Mi-temps dans chaque établissement."},
        "perspectives_carriere": {"poste_perenne": "Praticien hospitalier en 2021."},
        "candidat": {"nom": "LAMBOURDE", "prenom": "Peggy", "rpps": "10101010109"},
    }
    report = completeness(
        campaign,
        values,
        pieces=[p.key for p in campaign.pieces],
        attestations=[a.key for a in campaign.attestations],
        consent=True,
    )
    assert report.complete, report.messages()


# --- Île-de-France, médecins généralistes ville/hôpital 2020 --------------------------------


def test_mgvh_has_the_manuals_five_tabs_and_closes_on_13_march_2020() -> None:
    campaign = load("idf-mgvh-2020")
    assert titles(campaign) == [
        "Identification",
        "Partenariat",
        "Activité hospitalière",
        "Structure de soins",
        "Candidat",
    ]
    assert campaign.deadline == dt.date(2020, 3, 13)
    assert campaign.start_dates == (dt.date(2020, 11, 2),)


def test_mgvh_requires_exactly_the_four_pieces_of_the_manual() -> None:
    pieces = load("idf-mgvh-2020").pieces
    assert [p.label for p in pieces] == [
        "CV du candidat pressenti",
        "Lettre de motivation du candidat pressenti",
        "Lettre d'engagement type sur le projet Ville / hôpital",
        "Attestation d'inscription à l'Ordre des médecins et n°RPPS ou date d'inscription prévue",
    ]
    assert all(p.required for p in pieces)
    letter = next(p for p in pieces if p.key == "lettre_engagement")
    assert letter.model == "models/idf-mgvh-2020/lettre-engagement-type-ville-hopital.docx"


def test_mgvh_care_structure_gives_its_siret_or_siren() -> None:
    campaign = load("idf-mgvh-2020")
    assert campaign.field("identification.partenaire_siret").type == "siret"
    assert campaign.field("identification.partenaire_siren").type == "siren"
    one_of = {tuple(rule.fields) for rule in rules_of(campaign, OneOfRule)}
    assert ("identification.partenaire_siret", "identification.partenaire_siren") in one_of


def test_mgvh_empty_dossier_lists_what_is_missing_in_french() -> None:
    campaign = load("idf-mgvh-2020")
    report = completeness(campaign, {})
    messages = report.messages()
    assert not report.complete
    assert "Identification — « Etablissement de santé recruteur — FINESS » est obligatoire." in (
        messages
    )
    assert "Candidat — « Statut » est obligatoire." in messages
    assert "Pièce manquante : CV du candidat pressenti." in messages
    assert "Renseignez le N° SIRET ou, à défaut, le N° SIREN de la structure de soins." in messages
    assert sum(m.startswith("Pièce manquante") for m in messages) == 4
    assert sum(m.startswith("Attestation à cocher") for m in messages) == len(campaign.attestations)
    assert list(report.by_place())[:5] == [v.key for v in campaign.volets]


# --- Île-de-France, assistants universitaires de médecine générale, vague 12 ----------------


def test_aumg_has_the_eight_volets_of_the_manual() -> None:
    campaign = load("idf-aumg-vague12")
    assert titles(campaign) == [
        "Identification des universités et des structures de soins partenaires du projet",
        "Partenariat université - structure de soins",
        "Partie université",
        "Partie structure de soins",
        "Projet en lien avec la structure de soins",
        "Fiche du candidat pressenti pour le poste partagé",
        "Lettre d'engagement des partenaires du projet",
        "Pièces justificatives",
    ]
    assert campaign.depositor == "universite"


def test_aumg_uses_the_vague_12_dates() -> None:
    campaign = load("idf-aumg-vague12")
    assert campaign.deadline == dt.date(2025, 4, 30)
    assert campaign.start_dates == (dt.date(2025, 11, 1),)


def test_aumg_ordre_attestation_is_the_only_optional_piece() -> None:
    pieces = load("idf-aumg-vague12").pieces
    optional = [p.label for p in pieces if not p.required]
    assert optional == ["Attestation d'inscription à l'ordre (non obligatoire)"]
    report = completeness(load("idf-aumg-vague12"), {})
    assert "Pièce manquante : Le projet co-construit entre les partenaires." in report.messages()
    assert not any("Attestation d'inscription à l'ordre" in m for m in report.messages())


def test_aumg_models_to_download_sit_in_volets_3_4_and_7() -> None:
    campaign = load("idf-aumg-vague12")
    with_model = {p.volet for p in campaign.pieces if p.model}
    assert with_model == {"partie_universite", "partie_structure", "lettre_engagement"}
    volet_keys = [v.key for v in campaign.volets]
    assert [volet_keys.index(v) + 1 for v in sorted(with_model, key=volet_keys.index)] == [3, 4, 7]


def test_aumg_underserved_zone_is_one_of_zip_zip_plus_zac_qpv() -> None:
    zone = load("idf-aumg-vague12").field("partenariat.zone_sous_dense")
    assert [c.label for c in zone.choices] == ["ZIP", "ZIP+", "ZAC", "QPV"]


# --- Normandie, assistants spécialistes à temps partagé, session 2025 -----------------------


def test_normandie_asp_is_deposited_by_the_candidate_before_14_february_2025() -> None:
    campaign = load("normandie-asp-2025")
    assert campaign.depositor == "candidat"
    assert campaign.deadline == dt.date(2025, 2, 14)
    assert [d.strftime("%Y-%m") for d in campaign.start_dates] == ["2025-11", "2026-05"]
    notes = {c.note: c.email for c in campaign.contacts}
    assert notes["Subdivision de Rouen"] == "sandrine.beaulieu@ars.sante.fr"
    assert notes["Subdivision de Caen"] == "nathalie.charlet@ars.sante.fr"


def test_normandie_asp_ambulatory_share_is_50_percent_minimum_and_shares_sum_to_100() -> None:
    campaign = load("normandie-asp-2025")
    (total,) = rules_of(campaign, SumRule)
    assert set(total.fields) == {"fonction.temps_etablissement", "fonction.temps_structure"}
    assert total.total == 100
    (minimum,) = rules_of(campaign, BoundRule)
    assert (minimum.kind, minimum.field, minimum.value) == ("min", "fonction.temps_structure", 50)


def test_normandie_asp_sum_rule_catches_60_plus_30() -> None:
    campaign = load("normandie-asp-2025")
    values = {"fonction": {"temps_etablissement": 60, "temps_structure": 30}}
    messages = completeness(campaign, values).messages()
    assert (
        "Le temps passé dans l'établissement de santé et le temps passé dans la structure "
        "ambulatoire doivent faire 100 %."
    ) in messages
    assert "L'exercice au sein de la structure ambulatoire doit être à hauteur de 50% minimum." in (
        messages
    )
    values = {"fonction": {"temps_etablissement": 40, "temps_structure": 60}}
    assert not any("100 %" in m or "50%" in m for m in completeness(campaign, values).messages())


def test_normandie_asp_thesis_date_follows_the_yes_no_answer() -> None:
    campaign = load("normandie-asp-2025")
    held = "Formation — « Date de soutenance » est obligatoire."
    planned = "Formation — « Date prévue » est obligatoire."
    messages = completeness(campaign, {"formation": {"these": True}}).messages()
    assert held in messages and planned not in messages
    messages = completeness(campaign, {"formation": {"these": False}}).messages()
    assert planned in messages and held not in messages


def test_normandie_asp_internships_table_has_the_forms_columns() -> None:
    table = load("normandie-asp-2025").field("formation.stages_internat")
    assert [c.label for c in table.columns] == [
        "Etablissements",
        "Service",
        "Chef de service",
        "Stages validés O/N",
    ]
    assert table.columns[-1].type == "yes_no"


def test_normandie_asp_asks_the_avis_of_pages_9_to_13() -> None:
    avis = load("normandie-asp-2025").avis
    assert [a.giver for a in avis] == [
        "coordonnateur",
        "chef_de_service",
        "chef_de_service",
        "directeur",
        "directeur",
    ]
    assert all(a.required for a in avis)


def test_normandie_asp_annex_models_carry_the_forms_wording() -> None:
    campaign = load("normandie-asp-2025")
    models = [CAMPAIGNS / p.model for p in campaign.pieces if p.model and "annexe" in p.key]
    assert len(models) == 5
    for path in models[1:]:
        text = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
        assert "Je soussigné(e)" in text and "Donne un avis favorable à" in text


# --- Normandie, assistants spécialistes régionaux, session 2026 ----------------------------


def test_normandie_asr_starts_on_the_three_dates_of_the_form() -> None:
    campaign = load("normandie-asr-2026")
    assert campaign.start_dates == (
        dt.date(2026, 5, 4),
        dt.date(2026, 11, 2),
        dt.date(2027, 5, 2),
    )
    assert campaign.depositor == "etablissement_sante"


@pytest.mark.parametrize("year", [1, 2])
def test_normandie_asr_chu_at_most_40_and_ch_at_least_60_each_year(year: int) -> None:
    campaign = load("normandie-asr-2026")
    chu, ch = f"projet.annee{year}_chu", f"projet.annee{year}_ch"
    bounds = {(r.kind, r.field, r.value) for r in rules_of(campaign, BoundRule)}
    assert ("max", chu, 40) in bounds and ("min", ch, 60) in bounds
    sums = {(frozenset(r.fields), r.total) for r in rules_of(campaign, SumRule)}
    assert (frozenset({chu, ch}), 100) in sums


def test_normandie_asr_half_time_at_the_chu_breaks_both_bounds() -> None:
    campaign = load("normandie-asr-2026")
    values = {
        "candidat": {"duree_fonctions": "2_ans"},
        "projet": {"annee1_chu": 50, "annee1_ch": 50, "annee2_chu": 30, "annee2_ch": 70},
    }
    broken = [p.key for p in completeness(campaign, values).problems if p.place == "projet"]
    assert "annee1_chu" in broken and "annee1_ch" in broken
    assert "annee2_chu" not in broken and "annee2_ch" not in broken


def test_normandie_asr_year_2_is_asked_only_for_a_two_year_post() -> None:
    campaign = load("normandie-asr-2026")
    missing_year_2 = (
        "Projet relatif au parcours d'ASR — « Année 2 : Centre hospitalier » est obligatoire."
    )
    one_year = {"candidat": {"duree_fonctions": "1_an"}}
    two_years = {"candidat": {"duree_fonctions": "2_ans"}}
    assert missing_year_2 not in completeness(campaign, one_year).messages()
    assert missing_year_2 in completeness(campaign, two_years).messages()


def test_normandie_asr_asks_the_avis_of_annexes_5_to_11() -> None:
    # Annexe 12, the candidate's consent, is given by the candidate (issue #14).
    avis = [a for a in load("normandie-asr-2026").avis if a.giver != "candidat"]
    assert [a.giver for a in avis] == [
        "chef_de_service",
        "chef_de_service",
        "coordonnateur",
        "directeur",
        "directeur",
        "president_cme",
        "president_cme",
    ]
    assert [a.label.rsplit("(annexe ", 1)[1] for a in avis] == [f"{n})" for n in range(5, 12)]


def test_normandie_asr_du_diu_table_and_thesis_date() -> None:
    campaign = load("normandie-asr-2026")
    table = campaign.field("parcours.du_diu")
    assert [c.label for c in table.columns] == [
        "DU / DIU",
        "Nom complet du DU ou DIU",
        "Date d'obtention",
        "Université(s)",
    ]
    messages = completeness(campaign, {"parcours": {"these": False}}).messages()
    assert "Descriptif du parcours du candidat — « Date de soutenance fixée » est obligatoire." in (
        messages
    )


# --- data-protection texts copied from the Normandie forms -----------------------------------

VERBATIM = {
    "normandie-asp-2025": (
        "Vos données sont conservées pendant la durée de votre contrat et ne sont destinées "
        "qu’aux seuls agents habilités par leurs fonctions à y accéder."
    ),
    "normandie-asr-2026": (
        "Seuls les agents de l’ARS Normandie auront accès à ces données. Celles-ci sont "
        "conservées le temps de la gestion des dossiers de candidatures d’ASR et de "
        "financement des établissements employeurs par l’ARS Normandie."
    ),
}


@pytest.mark.parametrize("slug", VERBATIM)
def test_normandie_consent_is_copied_verbatim_from_the_form(slug: str) -> None:
    campaign = load(slug)
    consent = campaign.consent or ""
    if slug == "normandie-asr-2026":  # the candidate's own signature (issue #14)
        given = next(a for a in campaign.avis if a.key == "consentement_candidat")
        consent = f"{given.certification_text}\n{given.statement}"
    assert VERBATIM[slug] in consent
    assert consent.startswith("En cochant cette case, j’accepte de fournir les données")
    seed = SEEDS / SEED_OF[slug]
    if seed.exists():
        assert VERBATIM[slug] in seed.read_text(encoding="utf-8")


def test_normandie_asp_asks_for_the_diplomas_only_once_the_thesis_is_passed():
    campaign = load_campaign_file(CAMPAIGNS / "normandie-asp-2025.yaml")

    def missing(these: bool) -> list[str]:
        values = {"formation": {"these": these}}
        report = completeness(campaign, values)
        return [p.key for p in report.problems if p.place == "pieces"]

    assert "copie_diplomes" in missing(True)
    assert "copie_diplomes" not in missing(False)


def test_each_campaign_file_cites_its_seed_by_file_name():
    for path in sorted(CAMPAIGNS.glob("*.yaml")):
        if path.name.startswith("demo-"):
            continue
        first = path.read_text(encoding="utf-8").splitlines()[0]
        cited = re.match(r"# Source: ([\w.-]+\.txt) ", first)
        assert cited, f"{path.name} does not cite its seed by file name: {first}"
        assert (SEEDS / cited.group(1)).is_file(), cited.group(1)


# --- issue 14: the rules the seeds state, each tested on both sides of its limit ------------


def problems_in(campaign: Campaign, values: dict[str, dict[str, Any]], place: str) -> list[str]:
    return [p.message for p in completeness(campaign, values).problems if p.place == place]


AUMG_INTERNAT = (
    "Pour être AUMG, il faut être médecin généraliste en post internat (dans les 4 à 5 années "
    "qui suivent la fin de l'internat)."
)


@pytest.mark.parametrize(
    ("ended", "passes"),
    [
        ("2010-06-30", False),  # « an internship ended in 2010 passes today »: no longer
        ("2020-10-31", False),  # five years and a day before the prise de poste
        ("2020-11-01", True),  # five years before 1 November 2025
        ("2025-10-31", True),
        ("2025-11-02", False),  # still an intern at the prise de poste
    ],
)
def test_aumg_internat_ended_within_five_years_of_the_prise_de_poste(ended, passes) -> None:
    campaign = load("idf-aumg-vague12")
    found = problems_in(campaign, {"candidat": {"date_fin_internat": ended}}, "candidat")
    assert (AUMG_INTERNAT not in found) is passes


def test_aumg_a_no_to_the_des_of_general_medicine_is_refused() -> None:
    campaign = load("idf-aumg-vague12")
    refused = "Pour être AUMG, il faut être diplômé du Diplôme d'Etat de Médecine Générale."
    no = problems_in(campaign, {"candidat": {"diplome_medecine_generale": False}}, "candidat")
    yes = problems_in(campaign, {"candidat": {"diplome_medecine_generale": True}}, "candidat")
    assert refused in no and refused not in yes


def test_aumg_one_dossier_per_candidate_is_a_rule_not_a_checkbox() -> None:
    campaign = load("idf-aumg-vague12")
    assert campaign.candidate is not None
    assert campaign.candidate.one_dossier == "Un dossier par candidat."
    assert campaign.candidate.rpps == "candidat.rpps"
    assert "un_dossier_par_candidat" not in {a.key for a in campaign.attestations}


def test_aumg_asks_no_siret_the_manual_does_not_ask() -> None:
    types = {f.type for v in load("idf-aumg-vague12").volets for f in v.fields}
    assert "siret" not in types


@pytest.mark.parametrize(
    ("slug", "first"), [(slug, slug in {"idf-asp-vague6", "idf-mgvh-2020"}) for slug in SEED_OF]
)
def test_identification_first_only_where_the_manual_says_so(slug, first) -> None:
    # « Une fois l'onglet « Identification » complété, vous avez la possibilité de renseigner
    # les différents onglets dans n'importe quel ordre » — IdF ASP and MGVH manuals only.
    assert load(slug).identification_first is first


def test_asp_idf_requires_the_recruiters_finess_not_the_partners() -> None:
    campaign = load("idf-asp-vague6")
    assert campaign.field("identification.recruteur_finess").required
    assert not campaign.field("identification.partenaire_finess").required


@pytest.mark.parametrize(("share", "passes"), [(0, False), (19, False), (20, True), (40, True)])
def test_normandie_asr_at_least_one_day_a_week_at_the_chu(share, passes) -> None:
    # « au moins 1 journée et au plus de 40 % du temps au sein d'un centre hospitalier
    # universitaire par semaine »: 0 % at the CHU and 100 % at the CH no longer passes.
    campaign = load("normandie-asr-2026")
    values = {"projet": {"annee1_chu": share, "annee1_ch": 100 - share}}
    found = problems_in(campaign, values, "projet")
    day = [m for m in found if "au moins 1 journée par semaine" in m]
    assert (not day) is passes


@pytest.mark.parametrize(
    ("field", "date", "start", "passes"),
    [
        ("des_date", "2026-11-02", "2026-11-02", True),
        ("des_date", "2026-11-03", "2026-11-02", False),
        ("des_date", "2026-06-30", "2026-05-04", False),
        ("des_date", "2026-06-30", "2027-05-02", True),
        ("doctorat_date", "2026-05-05", "2026-05-04", False),
        ("these_date_soutenance_fixee", "2026-10-15", "2026-11-02", True),
    ],
)
def test_normandie_asr_des_and_thesis_validated_at_the_start_chosen(
    field, date, start, passes
) -> None:
    # « Il est impératif que le DES et la thèse aient été validés à la date d'entrée en
    # fonction en qualité d'assistant spécialiste. »
    campaign = load("normandie-asr-2026")
    these = field != "these_date_soutenance_fixee"
    values = {
        "candidat": {"date_prise_de_fonction": start},
        "parcours": {"these": these, field: date},
    }
    found = problems_in(campaign, values, "parcours")
    late = [m for m in found if m.startswith("Il est impératif que le DES et la thèse")]
    assert (not late) is passes


def test_normandie_asr_annexe_4_has_its_date_and_signature() -> None:
    # Annexe 4 ends with « Date : » and « Signature : ».
    campaign = load("normandie-asr-2026")
    assert campaign.field("projet.projet_date").type == "date"
    assert campaign.field("projet.projet_date").required
    (signature,) = [p for p in campaign.pieces if p.key == "projet_signature"]
    assert signature.required and signature.volet == "projet"
    assert "Signature" in signature.label


@pytest.mark.parametrize(("zone", "required"), [(True, False), (False, True)])
def test_normandie_asp_justification_required_outside_a_priority_zone(zone, required) -> None:
    # « le coordonnateur … devra justifier le choix de l'établissement partenaire lorsque ce
    # dernier ne sera pas dans une zone prioritaire ».
    campaign = load("normandie-asp-2025")
    found = problems_in(campaign, {"fonction": {"structure_zone_prioritaire": zone}}, "fonction")
    missing = [m for m in found if "Justification du choix" in m]
    assert bool(missing) is required
    values = {"fonction": {"structure_zone_prioritaire": zone, "justification_hors_zone": "x"}}
    assert not [m for m in problems_in(campaign, values, "fonction") if "Justification" in m]
