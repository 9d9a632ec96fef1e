"""Reading campaign files: every error names the file, the line and the key, so that an ARS
administrator can fix the YAML without reading Python."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from workflow.campaigns.loader import (
    CampaignFileError,
    LoadProblem,
    load_campaign_file,
    load_directory,
)
from workflow.campaigns.schema import Campaign

ROOT = Path(__file__).resolve().parent.parent

# A small valid campaign; each test breaks one thing in it.
GOOD = """\
slug: essai-asp
title: Essai d'appel à candidatures
agency: ARS Île-de-France
contacts:
  - email: ars-idf-asp@ars.sante.fr
depositor: etablissement_sante
depositor_label: Bureau des Affaires Médicales
opens: 2026-01-05
deadline: 2026-03-20
confirmation_window: {start: 2026-10-01, end: 2026-10-31}
start_dates: [2026-11-02]
volets:
  - key: identification
    title: Identification
    fields:
      - key: nom
        label: Nom de l'établissement
        type: text
        required: true
      - key: finess
        label: N° FINESS
        type: finess
  - key: candidat
    title: Candidat
    fields:
      - key: temps_hopital
        label: Temps à l'hôpital
        type: percentage
      - key: temps_partenaire
        label: Temps chez le partenaire
        type: percentage
      - key: statut
        label: Statut
        type: choice
        choices: [assistant, praticien]
      - key: commentaire
        label: Commentaire
        type: long_text
rules:
  - kind: sum
    fields: [candidat.temps_hopital, candidat.temps_partenaire]
    total: 100
pieces:
  - key: cv
    label: CV du candidat
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(text: str, old: str, new: str) -> str:
    """GOOD with one line changed; fails loudly if the line to change is not there."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `needle`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[occurrence - 1]


def problems_of(path: Path) -> list[LoadProblem]:
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_file(path)
    return raised.value.problems


def problem_at(problems: list[LoadProblem], key: str) -> LoadProblem:
    matching = [p for p in problems if p.key == key]
    assert matching, f"no problem at {key!r} among {problems}"
    return matching[0]


# --- a good file ----------------------------------------------------------------------------


def test_a_good_file_loads_with_its_volets_fields_and_dates(tmp_path):
    campaign = load_campaign_file(write(tmp_path, "essai-asp.yaml", GOOD))
    assert campaign.slug == "essai-asp"
    assert [v.key for v in campaign.volets] == ["identification", "candidat"]
    assert campaign.field("candidat.statut").choices[1].value == "praticien"
    assert campaign.deadline == dt.date(2026, 3, 20)
    assert campaign.start_dates == (dt.date(2026, 11, 2),)
    assert campaign.demo is False


# --- broken files ---------------------------------------------------------------------------


def test_a_yaml_syntax_error_is_reported_at_its_line(tmp_path):
    text = broken(GOOD, "label: Nom de l'établissement", "label: Nom: de l'établissement")
    path = write(tmp_path, "essai-asp.yaml", text)
    (problem,) = problems_of(path)
    assert problem.source == str(path)
    assert problem.line == line_of(text, "label: Nom: de")
    assert problem.message == (
        "YAML : deux-points inattendu : mettez la valeur entre guillemets si elle contient « : »"
    )


def test_an_unknown_key_is_reported_with_its_key_path_and_line(tmp_path):
    text = broken(GOOD, "        type: finess", "        tpye: finess")
    path = write(tmp_path, "essai-asp.yaml", text)
    problems = problems_of(path)
    unknown = problem_at(problems, "volets[0].fields[1].tpye")
    assert unknown.source == str(path)
    assert unknown.line == line_of(text, "tpye: finess")
    # The misspelt key also leaves the real one missing, reported on the field's first line.
    missing = problem_at(problems, "volets[0].fields[1]")
    assert missing.line == line_of(text, "- key: finess")
    assert missing.message == "clé manquante : « type »"


def test_an_unknown_key_is_called_an_unknown_key(tmp_path):
    text = broken(GOOD, "        type: finess", "        tpye: finess")
    problems = problems_of(write(tmp_path, "essai-asp.yaml", text))
    assert problem_at(problems, "volets[0].fields[1].tpye").message == "clé inconnue : « tpye »"


def test_a_missing_required_key_is_reported_on_the_item_that_lacks_it(tmp_path):
    text = broken(GOOD, "        label: N° FINESS\n", "")
    path = write(tmp_path, "essai-asp.yaml", text)
    (problem,) = problems_of(path)
    assert problem.source == str(path)
    assert problem.key == "volets[0].fields[1]"
    assert problem.line == line_of(text, "- key: finess")
    assert problem.message == "clé manquante : « label »"


def test_a_missing_top_level_key_is_named_in_the_message(tmp_path):
    text = broken(GOOD, "agency: ARS Île-de-France\n", "")
    (problem,) = problems_of(write(tmp_path, "essai-asp.yaml", text))
    assert problem.message == "clé manquante : « agency »"
    assert str(problem).endswith("(document): clé manquante : « agency »")


def test_a_wrong_field_type_name_is_reported_on_the_type_line(tmp_path):
    text = broken(GOOD, "        type: finess", "        type: finness")
    path = write(tmp_path, "essai-asp.yaml", text)
    (problem,) = problems_of(path)
    assert problem.key == "volets[0].fields[1].type"
    assert problem.line == line_of(text, "type: finness")
    assert problem.message.startswith("valeur non prévue ; valeurs possibles : « text », ")
    assert "« finess »" in problem.message  # the allowed names are listed


def test_a_choice_field_without_choices_is_refused_on_its_field(tmp_path):
    text = broken(GOOD, "        choices: [assistant, praticien]\n", "")
    path = write(tmp_path, "essai-asp.yaml", text)
    (problem,) = problems_of(path)
    assert problem.source == str(path)
    assert problem.key == "volets[1].fields[2]"
    assert problem.line == line_of(text, "- key: statut")
    assert problem.message == "un champ « choice » demande ses « choices »"


def test_a_key_written_twice_in_a_mapping_is_refused_at_the_second(tmp_path):
    text = broken(
        GOOD,
        "        label: Temps à l'hôpital\n",
        "        label: Temps à l'hôpital\n        label: Temps hospitalier\n",
    )
    path = write(tmp_path, "essai-asp.yaml", text)
    (problem,) = problems_of(path)
    assert problem.source == str(path)
    assert problem.key == "volets[1].fields[0].label"
    assert problem.line == line_of(text, "label: Temps hospitalier")
    assert problem.message == "clé en double"


def test_a_rule_on_an_unknown_field_names_the_field(tmp_path):
    text = broken(GOOD, "[candidat.temps_hopital, candidat", "[candidat.temps_hopitl, candidat")
    path = write(tmp_path, "essai-asp.yaml", text)
    (problem,) = problems_of(path)
    assert problem.source == str(path)
    assert problem.message == "champ inconnu : « candidat.temps_hopitl »"


def test_a_sum_rule_on_a_text_field_is_refused(tmp_path):
    text = broken(GOOD, "candidat.temps_partenaire]", "candidat.commentaire]")
    (problem,) = problems_of(write(tmp_path, "essai-asp.yaml", text))
    assert problem.message == (
        "une règle « sum » porte sur des champs numériques, pas sur « candidat.commentaire » "
        "(long_text)"
    )


def test_a_deadline_before_the_opening_is_refused(tmp_path):
    text = broken(GOOD, "deadline: 2026-03-20", "deadline: 2026-01-04")
    (problem,) = problems_of(write(tmp_path, "essai-asp.yaml", text))
    assert problem.message == "la date limite précède la date d'ouverture"


def test_two_volets_with_the_same_key_are_refused(tmp_path):
    text = broken(GOOD, "  - key: candidat", "  - key: identification")
    problem = problem_at(problems_of(write(tmp_path, "essai-asp.yaml", text)), "volets[1].key")
    assert problem.message == "clé en double : « identification »"


# Checks that span the whole campaign (Campaign.reference_problems) are reported at the key at
# fault, not at the document's root. Each case: the change, the keys that would name the
# fault, the lines where it is written (as (text on the line, which occurrence)).
RULE_LINES = (("- kind: sum", 1), ("fields: [candidat.", 1))
WHOLE_CAMPAIGN_CHECKS = {
    "rule on an unknown field": (
        ("[candidat.temps_hopital, candidat", "[candidat.temps_hopitl, candidat"),
        {"rules[0].fields[0]"},
        RULE_LINES,
    ),
    "sum rule on a text field": (
        ("candidat.temps_partenaire]", "candidat.commentaire]"),
        {"rules[0].fields[1]"},
        RULE_LINES,
    ),
    "deadline before opening": (
        ("deadline: 2026-03-20", "deadline: 2026-01-04"),
        {"deadline"},
        (("deadline: 2026-01-04", 1),),
    ),
    "duplicate volet keys": (
        ("  - key: candidat", "  - key: identification"),
        {"volets[1].key"},
        (("  - key: identification", 2),),
    ),
}


@pytest.mark.parametrize("case", list(WHOLE_CAMPAIGN_CHECKS))
def test_a_whole_campaign_check_is_reported_at_the_key_at_fault(tmp_path, case):
    (old, new), keys, places = WHOLE_CAMPAIGN_CHECKS[case]
    text = broken(GOOD, old, new)
    problems = problems_of(write(tmp_path, "essai-asp.yaml", text))
    (problem,) = [p for p in problems if p.key in keys]
    assert problem.line in {line_of(text, needle, occurrence) for needle, occurrence in places}


def test_an_empty_file_is_refused(tmp_path):
    path = write(tmp_path, "vide.yaml", "# rien\n")
    (problem,) = problems_of(path)
    assert problem.source == str(path)
    assert problem.message == "le fichier est vide"


# --- a directory ----------------------------------------------------------------------------


def test_load_directory_collects_the_problems_of_every_bad_file(tmp_path):
    write(tmp_path, "a-bon.yaml", GOOD)
    write(tmp_path, "b-type.yaml", broken(GOOD, "type: finess", "type: finness"))
    write(tmp_path, "c-syntaxe.yaml", broken(GOOD, "label: N° FINESS", "label: [N° FINESS"))
    with pytest.raises(CampaignFileError) as raised:
        load_directory(tmp_path)
    sources = [Path(p.source).name for p in raised.value.problems]
    assert sources == ["b-type.yaml", "c-syntaxe.yaml"]
    assert "b-type.yaml" in str(raised.value) and "c-syntaxe.yaml" in str(raised.value)


def test_load_directory_gives_every_good_file_sorted_by_name(tmp_path):
    write(tmp_path, "z-second.yaml", broken(GOOD, "slug: essai-asp", "slug: second"))
    write(tmp_path, "a-premier.yaml", GOOD)
    write(tmp_path, "notes.txt", "not a campaign")
    loaded = load_directory(tmp_path)
    assert [(path.name, c.slug) for path, c in loaded] == [
        ("a-premier.yaml", "essai-asp"),
        ("z-second.yaml", "second"),
    ]


# --- demo files -----------------------------------------------------------------------------

DEMO = """\
demo_of: essai-asp
slug: demo-essai-asp
title: Démonstration — essai
relative_dates:
  opens: -7
  deadline: 30
  confirmation_window: {start: 60, end: 90}
  start_dates: [100, 120]
"""

DATE_AND_NAME_KEYS = {
    "slug",
    "title",
    "demo",
    "description",
    "opens",
    "deadline",
    "confirmation_window",
    "start_dates",
    # A demo copy's addresses are at example.org (test_a_demo_copy_never_mails_…).
    "contacts",
}


def test_a_demo_file_is_its_base_with_dates_counted_from_today(tmp_path):
    write(tmp_path, "essai-asp.yaml", GOOD)
    path = write(tmp_path, "demo-essai-asp.yaml", DEMO)
    demo = load_campaign_file(path, today=dt.date(2026, 6, 15))
    assert demo.slug == "demo-essai-asp"
    assert demo.title == "Démonstration — essai"
    assert demo.demo is True
    assert demo.opens == dt.date(2026, 6, 8)
    assert demo.deadline == dt.date(2026, 7, 15)
    assert demo.confirmation_window is not None
    assert (demo.confirmation_window.start, demo.confirmation_window.end) == (
        dt.date(2026, 8, 14),
        dt.date(2026, 9, 13),
    )
    assert demo.start_dates == (dt.date(2026, 9, 23), dt.date(2026, 10, 13))


def test_a_demo_file_keeps_everything_else_of_its_base(tmp_path):
    base = load_campaign_file(write(tmp_path, "essai-asp.yaml", GOOD))
    path = write(tmp_path, "demo-essai-asp.yaml", DEMO)
    demo = load_campaign_file(path, today=dt.date(2026, 6, 15))
    assert isinstance(demo, Campaign)
    kept = demo.model_dump(exclude=DATE_AND_NAME_KEYS)
    assert kept == base.model_dump(exclude=DATE_AND_NAME_KEYS)
    assert kept["volets"][1]["fields"][2]["choices"][0]["value"] == "assistant"
    # The description warns that the demo's dates are not those of the original text.
    assert demo.description.startswith("Copie de démonstration")


def test_a_demo_copy_never_mails_a_real_ars_address(tmp_path):
    base = load_campaign_file(write(tmp_path, "essai-asp.yaml", GOOD))
    path = write(tmp_path, "demo-essai-asp.yaml", DEMO)
    demo = load_campaign_file(path, today=dt.date(2026, 6, 15))
    assert [c.email.split("@")[1] for c in demo.contacts] == ["example.org"] * len(base.contacts)
    assert [c.email.split("@")[0] for c in demo.contacts] == [
        c.email.split("@")[0] for c in base.contacts
    ]


def test_the_demo_copies_of_the_seeds_choose_example_org_contacts_and_move_start_dates():
    demos = {p.name: d for p, d in load_directory(ROOT / "campaigns", dt.date(2026, 12, 6))}
    asp = demos["demo-normandie-asp-2025.yaml"]
    assert asp.ars_contact is not None
    assert asp.ars_contact.by_value == {
        "rouen": "sandrine.beaulieu@example.org",
        "caen": "nathalie.charlet@example.org",
    }
    assert asp.ars_contact.mailbox == "ars-normandie-direction-attractivite-numerique@example.org"
    assert all(
        c.email.endswith("@example.org") for d in demos.values() if d.demo for c in d.contacts
    )
    # « prise de fonction 4 mai 2026, au 2 novembre 2026 ou 2 mai 2027 »: each answer of the
    # demo's field starts on the demo date standing where the seed's date stood.
    asr = demos["demo-normandie-asr-2026.yaml"]
    assert asr.start_date is not None
    assert asr.start_date.dates == dict(
        zip(["2026-05-04", "2026-11-02", "2027-05-02"], asr.start_dates, strict=True)
    )


def test_a_demo_file_without_window_has_none(tmp_path):
    write(tmp_path, "essai-asp.yaml", GOOD)
    text = broken(DEMO, "  confirmation_window: {start: 60, end: 90}\n", "")
    demo = load_campaign_file(write(tmp_path, "demo.yaml", text), today=dt.date(2026, 6, 15))
    assert demo.confirmation_window is None


def test_a_demo_file_with_an_unknown_key_is_reported_like_any_file(tmp_path):
    write(tmp_path, "essai-asp.yaml", GOOD)
    text = broken(DEMO, "  deadline: 30", "  dealine: 30")
    path = write(tmp_path, "demo.yaml", text)
    problems = problems_of(path)
    unknown = problem_at(problems, "relative_dates.dealine")
    assert unknown.source == str(path)
    assert unknown.line == line_of(text, "dealine: 30")


def test_a_demo_of_a_missing_base_names_the_missing_file(tmp_path):
    path = write(tmp_path, "demo.yaml", DEMO)
    (problem,) = problems_of(path)
    assert (problem.source, problem.key) == (str(path), "demo_of")
    assert problem.line == line_of(DEMO, "demo_of:")
    assert problem.message == "aucun fichier de campagne essai-asp.yaml à côté de celui-ci"


def test_a_demo_file_with_a_bad_slug_is_a_campaign_file_error(tmp_path):
    write(tmp_path, "essai-asp.yaml", GOOD)
    path = write(tmp_path, "demo.yaml", broken(DEMO, "slug: demo-essai-asp", "slug: Démo ASP"))
    problems = problems_of(path)
    assert problem_at(problems, "slug").source == str(path)


# --- python run.py check-campaign -----------------------------------------------------------


def check_campaign(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run.py", "check-campaign", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_campaign_says_ok_for_a_good_file(tmp_path):
    path = write(tmp_path, "good.yaml", GOOD)
    result = check_campaign(path)
    assert result.returncode == 0, result.stderr
    assert f"{path}: ok — essai-asp: 2 volets, 6 fields, 1 pieces" in result.stdout
    assert result.stderr == ""


def test_check_campaign_prints_file_line_key_and_message_for_a_bad_file(tmp_path):
    good = write(tmp_path, "good.yaml", GOOD)
    text = broken(GOOD, "        type: finess", "        type: finness")
    bad = write(tmp_path, "bad.yaml", text)
    result = check_campaign(good, bad)
    assert result.returncode != 0
    line = line_of(text, "type: finness")
    assert result.stderr.startswith(
        f"{bad}:{line}: volets[0].fields[1].type: valeur non prévue ; valeurs possibles : "
    )
    assert f"{good}: ok" in result.stdout
    assert "Traceback" not in result.stderr
