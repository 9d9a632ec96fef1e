"""Hostile campaign files cannot take the server down (issue 15, hole 5): an alias bomb, a
`!!python/object` tag, 5,000-deep nesting, an impossible date, a file over 1 Mo, a model
document outside `campaigns/models/` — each is one `fichier:ligne: clé: message` line in
French, from the loader, from `python run.py check-campaign` (run under a memory cap) and
on the administrator's page (never a 500)."""

from __future__ import annotations

import html
import io
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_campaign_loader import GOOD, broken, line_of
from workflow.campaigns.loader import (
    CampaignFileError,
    LoadProblem,
    load_campaign_file,
    load_campaign_text,
    load_directory,
)

ROOT = Path(__file__).resolve().parent.parent

# The "billion laughs": nine lines that expand to 9^9 strings once aliases are followed.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
HOSTILE = {
    "alias-bomb": (ALIAS_BOMB, 1, "a", "les ancres YAML (&nom) ne sont pas acceptées"),
    "python-object-tag": (
        broken(GOOD, "title: Essai d'appel à candidatures", "title: !!python/object:os.system {}"),
        2,
        "title",
        "étiquette YAML non permise : !!python/object:os.system",
    ),
    "5000-deep-nesting": (
        broken(GOOD, "start_dates: [2026-11-02]", "start_dates: " + "[" * 5000 + "]" * 5000),
        line_of(GOOD, "start_dates:"),
        "start_dates[0][0]",
        "imbrication trop profonde : 50 niveaux au plus",
    ),
    "impossible-date": (
        broken(GOOD, "deadline: 2026-03-20", "deadline: 2027-13-45"),
        line_of(GOOD, "deadline:"),
        "deadline",
        "date impossible : 2027-13-45",
    ),
    "duplicate-key": (
        broken(GOOD, "agency: ARS Île-de-France\n", "agency: ARS\nagency: ARS Normandie\n"),
        line_of(GOOD, "agency:") + 1,
        "agency",
        "clé en double",
    ),
    "unknown-field": (
        broken(GOOD, "agency: ARS Île-de-France\n", "agency: ARS\nagence: ARS\n"),
        line_of(GOOD, "agency:") + 1,
        "agence",
        "clé inconnue : « agence »",
    ),
    "wrong-publication": (
        broken(GOOD, "opens: 2026-01-05\n", "opens: 2026-01-05\npublication: tout_de_suite\n"),
        line_of(GOOD, "opens:") + 1,
        "publication",
        "valeur non prévue ; valeurs possibles : « immediate » ou « grouped »",
    ),
    "quoted-impossible-date": (
        broken(GOOD, "deadline: 2026-03-20", 'deadline: "2027-02-30"'),
        line_of(GOOD, "deadline:"),
        "deadline",
        "une date est attendue, au format 2026-03-20 (ou 2026-03-20T18:00 avec l'heure)",
    ),
}
# English words that pydantic or PyYAML would put on a French page.
ENGLISH = re.compile(
    r"\b(?:Input should|should be|duplicate|unknown|field required|not allowed|could not|"
    r"found|expected|mapping|the file|Value error)\b",
    re.IGNORECASE,
)


def problems(text: str, source: str = "essai.yaml") -> list[LoadProblem]:
    with pytest.raises(CampaignFileError) as refused:
        load_campaign_text(text, source)
    return refused.value.problems


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_campaign_file_is_one_french_line_with_file_line_and_key(case):
    text, line, key, message = HOSTILE[case]
    found = problems(text)
    assert [(p.source, p.line, p.key) for p in found] == [("essai.yaml", line, key)]
    assert message in found[0].message
    assert not ENGLISH.search(found[0].message), found[0].message
    assert str(found[0]) == f"essai.yaml:{line}: {key}: {found[0].message}"


def test_an_alias_is_refused_even_without_an_anchor_of_its_own():
    (problem,) = problems(broken(GOOD, "title: Essai d'appel à candidatures", "title: *titre"))
    assert problem.line == 2 and problem.key == "title"
    assert problem.message.startswith("les alias YAML (*nom) ne sont pas acceptés")


def test_a_file_over_one_megabyte_is_refused_before_it_is_read(tmp_path):
    big = GOOD + "# " + "x" * (1024 * 1024) + "\n"
    (problem,) = problems(big)
    assert problem.message == "le fichier dépasse 1 Mo"
    path = tmp_path / "gros.yaml"
    path.write_text(big, encoding="utf-8")
    with pytest.raises(CampaignFileError, match="le fichier dépasse 1 Mo"):
        load_campaign_file(path)


def test_the_shipped_campaign_files_use_no_anchor_nor_alias():
    loaded = load_directory(ROOT / "campaigns")
    assert len(loaded) == 10
    for path in (ROOT / "campaigns").glob("*.yaml"):
        assert not re.search(r"(?m)(?::|-)\s+[&*][\w-]+", path.read_text(encoding="utf-8"))


# --- model documents ---------------------------------------------------------------------------

WITH_MODEL = GOOD.replace(
    "  - key: cv\n    label: CV du candidat\n",
    "  - key: cv\n    label: CV du candidat\n    model: MODEL\n",
)


def campaigns_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "campaigns"
    (folder / "models" / "essai").mkdir(parents=True)
    (folder / "models" / "essai" / "annexe.docx").write_bytes(b"PK\x03\x04 annexe")
    (tmp_path / "secret.txt").write_text("SECRET_KEY=...", encoding="utf-8")
    (folder / "models" / "essai" / "lien.docx").symlink_to(tmp_path / "secret.txt")
    return folder


def test_a_model_under_campaigns_models_is_accepted(tmp_path):
    folder = campaigns_folder(tmp_path)
    text = WITH_MODEL.replace("MODEL", "models/essai/annexe.docx")
    assert load_campaign_text(text, "essai.yaml", folder).pieces[0].model == (
        "models/essai/annexe.docx"
    )
    path = folder / "essai.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_campaign_file(path).pieces[0].model == "models/essai/annexe.docx"


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("/etc/passwd", "doit être un fichier du dossier models/"),
        ("../secret.txt", "doit être un fichier du dossier models/"),
        ("models/../../secret.txt", "doit être un fichier du dossier models/"),
        ("models/essai/lien.docx", "doit être un fichier du dossier models/"),
        ("C:/Windows/win.ini", "doit être un fichier du dossier models/"),
        ("models\\\\..\\\\..\\\\secret.txt", "doit être un fichier du dossier models/"),
        ("essai.yaml", "doit être un fichier du dossier models/"),
        ("models/essai/absente.docx", "document modèle introuvable"),
    ],
    ids=[
        "absolute",
        "dotdot",
        "dotdot-inside",
        "symlink",
        "drive",
        "backslash",
        "outside",
        "missing",
    ],
)
def test_a_model_outside_campaigns_models_is_refused_when_the_file_is_loaded(
    tmp_path, model, words
):
    folder = campaigns_folder(tmp_path)
    text = WITH_MODEL.replace("MODEL", f'"{model}"')
    line = line_of(text, "model:")
    path = folder / "essai.yaml"
    path.write_text(text, encoding="utf-8")
    for load in (
        lambda: load_campaign_text(text, str(path), folder),
        lambda: load_campaign_file(path),
    ):
        with pytest.raises(CampaignFileError) as refused:
            load()
        (problem,) = refused.value.problems
        assert (problem.source, problem.line, problem.key) == (str(path), line, "pieces[0].model")
        assert words in problem.message


# --- python run.py check-campaign, under a memory cap -----------------------------------------


def _capped() -> None:
    """The child may not grow past 1 Gio: a regression fails the test, not the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize(
    "case", ["alias-bomb", "python-object-tag", "5000-deep-nesting", "impossible-date"]
)
def test_check_campaign_prints_one_line_and_no_traceback(tmp_path, case):
    text, line, key, message = HOSTILE[case]
    path = tmp_path / "essai.yaml"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "run.py", "check-campaign", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_capped,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (printed,) = result.stderr.splitlines()
    assert printed.startswith(f"{path}:{line}: {key}: ")
    assert message in printed


# --- the administrator's upload --------------------------------------------------------------


def test_the_administrator_sees_each_problem_in_french_never_a_server_error(world, client, auth):
    auth.login(world.user("administrateur"))
    for case, (text, line, key, message) in HOSTILE.items():
        response = client.post(
            "/admin/campagnes/charger",
            data={"fichier": (io.BytesIO(text.encode()), "essai.yaml")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, case
        rows = re.findall(
            r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>",
            response.text,
        )
        cells = [tuple(html.unescape(c) for c in row) for row in rows]
        assert len(cells) == 1, (case, cells)
        (source, shown_line, shown_key, shown) = cells[0]
        assert (source, shown_line, shown_key) == ("essai.yaml", str(line), key), case
        assert message in shown, case
        assert not ENGLISH.search(shown), shown
        assert "Traceback" not in response.text


def test_a_file_of_too_many_small_values_is_refused_at_the_first_one_past_the_limit():
    """Just under 1 Mo of one-digit items once took seconds and most of a gigabyte."""
    text = GOOD.replace("start_dates: [2026-11-02]", "start_dates: [" + "1, " * 300_000 + "1]")
    (problem,) = problems(text)
    assert problem.key.startswith("start_dates[")
    assert problem.message == "trop de clés et de valeurs : 20\u202f000 au plus"


def test_past_a_hundred_problems_the_rest_are_counted_not_listed():
    text = GOOD + "".join(f"inconnue_{i}: 1\n" for i in range(150))
    found = problems(text)
    assert len(found) == 101
    assert all(p.message.startswith("clé inconnue") for p in found[:100])
    assert found[-1].message == "… et 50 autres problèmes, non affichés"


def test_an_uploaded_file_whose_model_leaves_campaigns_models_is_refused_on_the_page(
    world, client, auth, app
):
    auth.login(world.user("administrateur"))
    for model, words in (
        ("../../../etc/passwd", "doit être un fichier du dossier models/"),
        ("models/essai/absente.docx", "document modèle introuvable"),
    ):
        text = WITH_MODEL.replace("MODEL", f'"{model}"')
        response = client.post(
            "/admin/campagnes/charger",
            data={"fichier": (io.BytesIO(text.encode()), "essai.yaml")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422
        assert words in html.unescape(response.text)
        assert "pieces[0].model" in response.text
