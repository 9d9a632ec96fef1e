"""The campaign format's rules that compare dates, demand an answer, make a field required
on a condition and bound a share of time: each declared in YAML, checked at load with a
`fichier:ligne: clé: message` in French, and evaluated by `completeness` with the seed's
sentence as message. Values on both sides of each limit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from workflow.campaigns.completeness import completeness, shift
from workflow.campaigns.loader import CampaignFileError, load_campaign_text

# A small campaign in the shape of the seeds; each test adds its rule.
BASE = """\
slug: essai-regles
title: Essai des règles
agency: ARS Île-de-France
contacts:
  - email: ars@ars.sante.fr
depositor: universite
depositor_label: Université
opens: 2025-03-03
deadline: 2025-04-30
start_dates: [2025-11-01]
volets:
  - key: candidat
    title: Candidat
    fields:
      - key: date_fin_internat
        label: Date de fin de l'internat
        type: date
      - key: des_date
        label: Date d'obtention du DES
        type: date
      - key: prise_de_fonction
        label: Date de la prise de fonction
        type: choice
        choices:
          - {value: "2026-05-04", label: 4 mai 2026}
          - {value: "2026-11-02", label: Novembre 2026}
      - key: diplome_mg
        label: Diplômé du Diplôme d'Etat de Médecine Générale
        type: yes_no
      - key: zone_prioritaire
        label: L'établissement partenaire est dans une zone prioritaire
        type: yes_no
      - key: justification
        label: Justification du choix de l'établissement partenaire
        type: long_text
        required_if: {field: candidat.zone_prioritaire, equals: false}
      - key: temps_chu
        label: "Année 1 : Etablissement du service universitaire"
        type: percentage
      - key: nom
        label: Nom
        type: text
"""


def campaign_with(rules: str = "", extra: str = ""):
    return load_campaign_text(BASE + extra + ("rules:\n" + rules if rules else ""))


def problems_in(text: str) -> list[str]:
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_text(BASE + text, source="essai.yaml")
    return [str(p) for p in raised.value.problems]


def messages(campaign, **candidat) -> list[str]:
    return [
        p.message
        for p in completeness(campaign, {"candidat": candidat}).problems
        if p.place == "candidat"
    ]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


# --- dates compared --------------------------------------------------------------------------

# AUMG: « Pour être AUMG, il faut être médecin généraliste en post internat (dans les 4 à 5
# années qui suivent la fin de l'internat) ».
AUMG_RULE = """\
  - kind: date
    field: candidat.date_fin_internat
    not_before: {date: start_date, years: -5}
    not_after: {date: start_date}
    message: >-
      Pour être AUMG, il faut être médecin généraliste en post internat (dans les 4 à 5
      années qui suivent la fin de l'internat).
"""


def test_an_internship_ended_in_2010_does_not_pass_the_aumg_rule():
    campaign = campaign_with(AUMG_RULE)
    (message,) = messages(campaign, date_fin_internat="2010-10-31")
    assert message.startswith("Pour être AUMG, il faut être médecin généraliste en post internat")


def test_the_aumg_rule_counts_five_years_back_from_the_start_date():
    campaign = campaign_with(AUMG_RULE)
    # Prise de poste on 1 November 2025: five years back is 1 November 2020.
    assert messages(campaign, date_fin_internat="2020-11-01") == []
    assert len(messages(campaign, date_fin_internat="2020-10-31")) == 1
    assert messages(campaign, date_fin_internat="2025-10-31") == []
    assert messages(campaign, date_fin_internat="2025-11-01") == []
    assert len(messages(campaign, date_fin_internat="2025-11-02")) == 1


def test_a_date_rule_waits_for_its_field():
    assert messages(campaign_with(AUMG_RULE)) == []


# ASR: « il est impératif que le DES et la thèse aient été validés à la date d'entrée en
# fonction en qualité d'assistant spécialiste ».
ASR_RULE = """\
  - kind: date
    field: candidat.des_date
    not_after: {date: candidat.prise_de_fonction}
    message: >-
      Il est impératif que le DES et la thèse aient été validés à la date d'entrée en
      fonction en qualité d'assistant spécialiste.
"""


def test_the_des_must_be_validated_before_the_chosen_start_date():
    campaign = campaign_with(ASR_RULE)
    start = "2026-11-02"
    # « validés à la date d'entrée en fonction »: the same day still counts.
    assert messages(campaign, des_date="2026-11-02", prise_de_fonction=start) == []
    (message,) = messages(campaign, des_date="2026-11-03", prise_de_fonction=start)
    assert message.startswith("Il est impératif que le DES et la thèse aient été validés")
    # The same DES date is fine for a later prise de fonction, wrong for an earlier one.
    assert len(messages(campaign, des_date="2026-06-30", prise_de_fonction="2026-05-04")) == 1
    assert messages(campaign, des_date="2026-06-30", prise_de_fonction=start) == []


def test_a_date_rule_without_message_says_the_limit_in_french():
    campaign = campaign_with(
        "  - kind: date\n    field: candidat.des_date\n    not_before: {date: opens}\n"
    )
    assert messages(campaign, des_date="2025-03-02") == [
        "« Date d'obtention du DES » doit être au plus tôt le 3 mars 2025."
    ]
    assert messages(campaign, des_date="2025-03-03") == []


def test_an_offset_in_days_moves_the_limit():
    campaign = campaign_with(
        "  - kind: date\n    field: candidat.des_date\n    not_after: {date: deadline, days: -1}\n"
    )
    assert messages(campaign, des_date="2025-04-29") == []
    assert messages(campaign, des_date="2025-04-30") == [
        "« Date d'obtention du DES » doit être au plus tard le 29 avril 2025."
    ]


def test_offsets_in_months_keep_the_end_of_the_month():
    assert shift(dt.date(2024, 2, 29), years=-1) == dt.date(2023, 2, 28)
    assert shift(dt.date(2025, 3, 31), months=-1) == dt.date(2025, 2, 28)
    assert shift(dt.date(2025, 12, 15), months=1, days=-15) == dt.date(2025, 12, 31)


# --- required answers ------------------------------------------------------------------------

DES_MG_RULE = """\
  - kind: equals
    field: candidat.diplome_mg
    value: true
    message: >-
      Pour être AUMG, il faut être diplômé du Diplôme d'Etat de Médecine Générale.
"""


def test_a_no_to_the_des_of_general_medicine_does_not_pass():
    campaign = campaign_with(DES_MG_RULE)
    assert messages(campaign, diplome_mg=False) == [
        "Pour être AUMG, il faut être diplômé du Diplôme d'Etat de Médecine Générale."
    ]
    assert messages(campaign, diplome_mg=True) == []


# --- conditional requirements ----------------------------------------------------------------


def test_the_justification_is_required_only_outside_a_priority_zone():
    # Normandie ASP: « justifier le choix de l'établissement partenaire lorsque ce dernier ne
    # sera pas dans une zone prioritaire ».
    campaign = campaign_with()
    assert messages(campaign, zone_prioritaire=True) == []
    (missing,) = messages(campaign, zone_prioritaire=False)
    assert "Justification du choix de l'établissement partenaire" in missing
    assert "obligatoire" in missing
    assert messages(campaign, zone_prioritaire=False, justification="Seul CH volontaire") == []


# --- at least one day a week at the CHU ------------------------------------------------------


def test_a_minimum_share_of_time_at_the_chu_refuses_zero_percent():
    # ASR: « au moins 1 journée … au sein d'un centre hospitalier universitaire par semaine ».
    campaign = campaign_with(
        "  - kind: min\n    field: candidat.temps_chu\n    value: 20\n"
        "    message: Au moins 1 journée par semaine au sein d'un centre hospitalier "
        "universitaire.\n"
    )
    assert messages(campaign, temps_chu=0) == [
        "Au moins 1 journée par semaine au sein d'un centre hospitalier universitaire."
    ]
    assert len(messages(campaign, temps_chu=19)) == 1
    assert messages(campaign, temps_chu=20) == []


# --- broken rules are explained at their line ------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "needle", "key", "message"),
    [
        (
            "  - kind: date\n    field: candidat.nom\n    not_after: {date: deadline}\n",
            "field: candidat.nom",
            "rules[0].field",
            "une règle « date » ne peut pas porter sur « candidat.nom » (text)",
        ),
        (
            "  - kind: date\n    field: candidat.des_date\n    not_after: {date: fin_du_monde}\n",
            "not_after:",
            "rules[0].not_after.date",
            "date inconnue : « fin_du_monde »",
        ),
        (
            "  - kind: date\n    field: candidat.des_date\n    not_after: {date: candidat.nom}\n",
            "not_after:",
            "rules[0].not_after.date",
            "« candidat.nom » n'est pas une date (text)",
        ),
        (
            "  - kind: date\n    field: candidat.des_date\n",
            "- kind: date",
            "rules[0]",
            "indiquez « not_before », « not_after » ou les deux",
        ),
        (
            "  - kind: equals\n    field: candidat.diplome_mg\n    value: oui\n",
            "value: oui",
            "rules[0].value",
            "une réponse oui/non attend « true » ou « false »",
        ),
        (
            "  - kind: equals\n    field: candidat.diplome_m\n    value: true\n",
            "field: candidat.diplome_m",
            "rules[0].field",
            "champ inconnu : « candidat.diplome_m »",
        ),
    ],
)
def test_a_broken_rule_is_explained_at_its_line(rule, needle, key, message):
    text = "rules:\n" + rule
    (problem,) = problems_in(text)
    where = f"essai.yaml:{line_of(BASE + text, needle)}: {key}: "
    assert problem.startswith(where + message), problem


def test_a_required_if_on_an_unknown_field_is_explained_at_its_line():
    text = BASE.replace("{field: candidat.zone_prioritaire,", "{field: candidat.zone,")
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_text(text, source="essai.yaml")
    (problem,) = raised.value.problems
    line = line_of(text, "required_if:")
    assert str(problem) == (
        f"essai.yaml:{line}: volets[0].fields[5].required_if.field: "
        "champ inconnu : « candidat.zone »"
    )


def test_start_date_needs_the_campaign_start_dates():
    text = BASE.replace("start_dates: [2025-11-01]\n", "") + (
        "rules:\n  - kind: date\n    field: candidat.des_date\n    not_after: {date: start_date}\n"
    )
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_text(text, source="essai.yaml")
    assert [p.message for p in raised.value.problems] == [
        "« start_date » demande les « start_dates » de la campagne"
    ]


def test_the_command_line_prints_a_broken_rule_at_its_line(tmp_path: Path):
    import subprocess
    import sys

    path = tmp_path / "essai-regles.yaml"
    text = BASE + "rules:\n  - kind: date\n    field: candidat.des_date\n    not_after: {date: x}\n"
    path.write_text(text, encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "run.py", "check-campaign", str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"{path}:{line_of(text, 'not_after:')}: rules[0].not_after.date: date inconnue" in (
        done.stdout + done.stderr
    )


def test_a_candidate_identity_on_the_wrong_field_is_explained_at_its_line():
    text = BASE + "candidate:\n  rpps: candidat.nom\n  birth_date: candidat.naissance\n"
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_text(text, source="essai.yaml")
    found = {str(p) for p in raised.value.problems}
    assert found == {
        f"essai.yaml:{line_of(text, 'rpps: candidat.nom')}: candidate.rpps: "
        "« rpps » demande un champ « rpps », pas « candidat.nom » (text)",
        f"essai.yaml:{line_of(text, 'birth_date:')}: candidate.birth_date: "
        "champ inconnu : « candidat.naissance »",
    }


def test_identification_first_is_off_unless_the_campaign_says_so():
    assert campaign_with().identification_first is False
    assert load_campaign_text(BASE + "identification_first: true\n").identification_first
