"""Tests for workflow.identifiers: French health-agency identifiers and contact fields."""

from collections.abc import Callable

import pytest

from workflow.plumbing.identifiers import (
    Checked,
    IdentifierError,
    check_commune,
    check_email,
    check_finess,
    check_phone,
    check_postal_code,
    check_rpps,
    check_siren,
    check_siret,
    format_phone_fr,
    luhn_valid,
)

ALL_CHECKS: list[Callable[[str], Checked]] = [
    check_finess,
    check_siret,
    check_siren,
    check_rpps,
    check_postal_code,
    check_phone,
    check_email,
]


def digit_sum(number: str) -> int:
    return sum(int(char) for char in number)


# --- IdentifierError / Checked -------------------------------------------------------------


def test_identifier_error_is_a_value_error_with_message() -> None:
    error = IdentifierError("Ce champ est vide.")
    assert isinstance(error, ValueError)
    assert error.message == "Ce champ est vide."
    assert str(error) == "Ce champ est vide."


def test_checked_is_frozen_and_warning_defaults_to_none() -> None:
    checked = Checked("010000156")
    assert checked.warning is None
    with pytest.raises(AttributeError):
        checked.value = "autre"  # type: ignore[misc]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("raw", ["", "   ", "\t\u00a0"])
def test_empty_input_is_refused_without_crashing(check: Callable[[str], Checked], raw: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check(raw)
    assert exc_info.value.message == "Ce champ est vide."


# --- Luhn ------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", ["0", "010000156", "010780195", "772201489", "77220148900022"])
def test_luhn_accepts_valid_keys(digits: str) -> None:
    assert luhn_valid(digits) is True


@pytest.mark.parametrize(
    "digits",
    ["010000157", "772201488", "", "01000015A", "010 000 156", "０１０000156", "-1"],
)
def test_luhn_refuses_wrong_keys_and_non_digits(digits: str) -> None:
    assert luhn_valid(digits) is False


# --- FINESS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("010000156", "010000156"),
        ("010780195", "010780195"),
        ("  010 000 156 ", "010000156"),
        ("2A0000000", "2A0000000"),
        ("2B1234567", "2B1234567"),
        ("2a 123 4567", "2A1234567"),
    ],
)
def test_finess_valid(raw: str, expected: str) -> None:
    assert check_finess(raw) == Checked(expected)


def test_every_single_digit_alteration_of_a_finess_fails() -> None:
    valid = "010000156"
    altered_count = 0
    for position, original in enumerate(valid):
        for digit in "0123456789":
            if digit == original:
                continue
            altered = valid[:position] + digit + valid[position + 1 :]
            assert not luhn_valid(altered), altered
            with pytest.raises(IdentifierError, match="clé de contrôle du n° FINESS"):
                check_finess(altered)
            altered_count += 1
    assert altered_count == 9 * 9


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0100001560", "Le n° FINESS doit comporter 9 caractères (10 saisis)."),
        ("01000015", "Le n° FINESS doit comporter 9 caractères (8 saisis)."),
        ("1", "Le n° FINESS doit comporter 9 caractères (1 saisi)."),
        ("010780196", "La clé de contrôle du n° FINESS est invalide : vérifiez le numéro."),
        (
            "2C0000000",
            "Le n° FINESS ne doit contenir que des chiffres, "
            "sauf « 2A » ou « 2B » en tête pour la Corse.",
        ),
        (
            "01000015A",
            "Le n° FINESS ne doit contenir que des chiffres, "
            "sauf « 2A » ou « 2B » en tête pour la Corse.",
        ),
        ("2A00000B0", "Après « 2A », le n° FINESS ne doit contenir que des chiffres."),
        ("2A000000", "Le n° FINESS doit comporter 9 caractères (8 saisis)."),
    ],
)
def test_finess_refused(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_finess(raw)
    assert exc_info.value.message == message


# --- SIREN / SIRET ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("772201489", "772201489"), (" 772 201 489 ", "772201489")]
)
def test_siren_valid(raw: str, expected: str) -> None:
    assert check_siren(raw) == Checked(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("772201488", "La clé de contrôle du n° SIREN est invalide : vérifiez le numéro."),
        ("77220148", "Le n° SIREN doit comporter 9 chiffres (8 saisis)."),
        ("7722014890", "Le n° SIREN doit comporter 9 chiffres (10 saisis)."),
        (
            "7722O1489",
            "Le n° SIREN ne doit contenir que des chiffres (caractère « O » non autorisé).",
        ),
        (
            "772-201.489",
            "Le n° SIREN ne doit contenir que des chiffres "
            "(caractères « - », « . » non autorisés).",
        ),
    ],
)
def test_siren_refused(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_siren(raw)
    assert exc_info.value.message == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("77220148900022", "77220148900022"),
        ("772 201 489 00022", "77220148900022"),
        # La Poste's head office keeps an ordinary Luhn key (its digit sum, 26, is not a
        # multiple of 5).
        ("35600000000048", "35600000000048"),
    ],
)
def test_siret_valid(raw: str, expected: str) -> None:
    assert check_siret(raw) == Checked(expected)


def test_siret_starts_with_its_siren() -> None:
    siret = check_siret("77220148900022").value
    assert check_siren(siret[:9]).value == "772201489"


@pytest.mark.parametrize("siret", ["35600000049837", "35600000000001"])
def test_la_poste_siret_valid_by_digit_sum_without_luhn(siret: str) -> None:
    # Guard the test data itself: these values exercise the exception only if Luhn fails.
    assert digit_sum(siret) % 5 == 0
    assert not luhn_valid(siret)
    assert check_siret(siret) == Checked(siret)


@pytest.mark.parametrize("siret", ["35600000049838", "35600000000014"])
def test_la_poste_siret_refused_when_digit_sum_not_multiple_of_5(siret: str) -> None:
    assert digit_sum(siret) % 5 != 0
    with pytest.raises(IdentifierError) as exc_info:
        check_siret(siret)
    assert exc_info.value.message == (
        "La clé de contrôle du n° SIRET est invalide : vérifiez le numéro."
    )


def test_la_poste_siret_luhn_alone_is_not_enough() -> None:
    # 35600000000014 satisfies Luhn but not La Poste's rule, which replaces Luhn.
    assert luhn_valid("35600000000014")
    with pytest.raises(IdentifierError):
        check_siret("35600000000014")


def test_siret_test_data_has_luhn_valid_digits_but_invalid_siren() -> None:
    # Guards the "77220148800016" case below: only the embedded SIREN check can refuse it.
    assert luhn_valid("77220148800016")
    assert not luhn_valid("772201488")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("77220148900023", "La clé de contrôle du n° SIRET est invalide : vérifiez le numéro."),
        (
            # The 14 digits satisfy Luhn, but the SIREN part 772201488 does not.
            "77220148800016",
            "La clé de contrôle du SIREN (9 premiers chiffres du n° SIRET) est invalide : "
            "vérifiez le numéro.",
        ),
        ("7722014890002", "Le n° SIRET doit comporter 14 chiffres (13 saisis)."),
        ("772201489000222", "Le n° SIRET doit comporter 14 chiffres (15 saisis)."),
        (
            "772201489OOO22",
            "Le n° SIRET ne doit contenir que des chiffres (caractère « O » non autorisé).",
        ),
    ],
)
def test_siret_refused(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_siret(raw)
    assert exc_info.value.message == message


# --- RPPS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("10003456786", "10003456786"), ("100 034 567 86", "10003456786")]
)
def test_rpps_with_luhn_key_has_no_warning(raw: str, expected: str) -> None:
    assert luhn_valid(expected)
    assert check_rpps(raw) == Checked(expected, warning=None)


@pytest.mark.parametrize("raw", ["10003456789", "10003456780"])
def test_rpps_bad_key_gives_warning_not_error(raw: str) -> None:
    assert not luhn_valid(raw)
    checked = check_rpps(raw)
    assert checked.value == raw
    assert checked.warning == (
        "La clé du n° RPPS ne correspond pas à l'algorithme habituel : vérifiez le numéro."
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1000345678", "Le n° RPPS doit comporter 11 chiffres (10 saisis)."),
        ("100034567860", "Le n° RPPS doit comporter 11 chiffres (12 saisis)."),
        (
            "1000345678A",
            "Le n° RPPS ne doit contenir que des chiffres (caractère « A » non autorisé).",
        ),
    ],
)
def test_rpps_wrong_format_is_refused(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_rpps(raw)
    assert exc_info.value.message == message


# --- Postal code -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01000", "01000"),
        ("20000", "20000"),
        ("20090", "20090"),  # Ajaccio
        ("20200", "20200"),  # Bastia
        ("76000", "76000"),  # Rouen
        ("75006", "75006"),
        (" 75 006 ", "75006"),
        ("95000", "95000"),
        ("97400", "97400"),
        ("98000", "98000"),
    ],
)
def test_postal_code_valid(raw: str, expected: str) -> None:
    checked = check_postal_code(raw)
    assert checked == Checked(expected)
    assert isinstance(checked.value, str)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("00100", "Code postal inconnu : 00100 ne correspond à aucun département"),
        ("96000", "Code postal inconnu : 96000 ne correspond à aucun département"),
        ("99000", "Code postal inconnu : 99000 ne correspond à aucun département"),
        ("99999", "Code postal inconnu : 99999 ne correspond à aucun département"),
        ("7500", "Le code postal doit comporter 5 chiffres (4 saisis)."),
        ("750066", "Le code postal doit comporter 5 chiffres (6 saisis)."),
        (
            "7500A",
            "Le code postal ne doit contenir que des chiffres (caractère « A » non autorisé).",
        ),
    ],
)
def test_postal_code_refused(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_postal_code(raw)
    assert exc_info.value.message.startswith(message)


@pytest.mark.parametrize("code", ["76031", "14033", "75999"])
def test_a_postal_code_absent_from_la_postes_list_is_kept_with_a_warning(code: str) -> None:
    # 76031 is the CHU de Rouen's CEDEX code, 14033 the CHU de Caen's: real addresses that
    # La Poste's distribution list (shipped by frformat) does not hold.
    checked = check_postal_code(code)
    assert checked.value == code
    assert checked.warning == (
        f"Code postal inconnu : {code} n'est pas dans la liste officielle de La Poste ; "
        "vérifiez-le (un code CEDEX, absent de cette liste, est accepté)."
    )


# --- Phone -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("0033612345678", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("01.45.67.89.10", "+33145678910"),
        ("01-45-67-89-10", "+33145678910"),
        ("\u00a006\u00a012 34 56 78 ", "+33612345678"),
        ("09 70 12 34 56", "+33970123456"),
        # Overseas departments: French national plan, their own country codes.
        ("0262 12 34 56", "+262262123456"),
        ("0692 12 34 56", "+262692123456"),
        ("0596 55 20 00", "+596596552000"),
        ("0590 12 34 56", "+590590123456"),
        ("+262 262 12 34 56", "+262262123456"),
    ],
)
def test_phone_normalised_to_e164(raw: str, expected: str) -> None:
    assert check_phone(raw) == Checked(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            "+44 20 7946 0958",
            "Seuls les numéros de téléphone français sont acceptés (indicatif +44 saisi).",
        ),
        (
            "0044 20 7946 0958",
            "Seuls les numéros de téléphone français sont acceptés (indicatif +44 saisi).",
        ),
        (
            "+1 202 555 0143",
            "Seuls les numéros de téléphone français sont acceptés (indicatif +1 saisi).",
        ),
        ("06 12 34 56 7", "Le numéro de téléphone doit comporter 10 chiffres (9 saisis)."),
        ("06 12 34 56 789", "Le numéro de téléphone doit comporter 10 chiffres (11 saisis)."),
        (
            "+33 6 12 34 56",
            "Après l'indicatif +33, le numéro de téléphone doit comporter 9 chiffres (7 saisis).",
        ),
        (
            "+33 06 12 34 56 78",
            "Après l'indicatif +33, ne saisissez pas le 0 initial (exemple : +33 6 12 34 56 78).",
        ),
        ("6 12 34 56 78", "Le numéro de téléphone doit commencer par 0, +33 ou 0033."),
        (
            "06 12 34 56 78 poste 12",
            "Le numéro de téléphone contient des caractères non autorisés : "
            "« p », « o », « s », « t », « e ».",
        ),
        ("06/12/34/56/78", "Le numéro de téléphone contient des caractères non autorisés : « / »."),
        ("(0)6 12 34 56 78", "Le numéro de téléphone doit commencer par 0, +33 ou 0033."),
        ("06 12 (0) 34 56", "Le numéro de téléphone est mal formé"),
        (
            "07 00 00 00 00",
            "Le numéro 07 00 00 00 00 n'existe pas dans le plan de numérotation français",
        ),
    ],
)
def test_phone_refused(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_phone(raw)
    assert exc_info.value.message.startswith(message)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+33612345678", "06 12 34 56 78"),
        ("+33145678910", "01 45 67 89 10"),
        ("+262262123456", "0262 12 34 56"),
        ("+442079460958", "+44 20 7946 0958"),
        ("pas un numéro", "pas un numéro"),
    ],
)
def test_format_phone_fr(e164: str, expected: str) -> None:
    assert format_phone_fr(e164) == expected


def test_phone_round_trip_through_display_format() -> None:
    stored = check_phone("+33 6 12 34 56 78").value
    shown = format_phone_fr(stored)
    assert shown == "06 12 34 56 78"
    assert check_phone(shown).value == stored


# --- Email -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jean.dupont@chu-lyon.fr", "jean.dupont@chu-lyon.fr"),
        ("  Jean.Dupont@CHU-Lyon.FR ", "Jean.Dupont@chu-lyon.fr"),
        ("secretariat+candidatures@ars.sante.fr", "secretariat+candidatures@ars.sante.fr"),
        ("élodie.martin@hôpital-exemple.fr", "élodie.martin@hôpital-exemple.fr"),
    ],
)
def test_email_valid(raw: str, expected: str) -> None:
    assert check_email(raw) == Checked(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("jean.dupont.chu-lyon.fr", "L'adresse e-mail doit contenir un « @ »."),
        ("jean@dupont@chu-lyon.fr", "L'adresse e-mail ne doit contenir qu'un seul « @ »."),
        ("@chu-lyon.fr", "L'adresse e-mail doit comporter un nom avant le « @ »."),
        ("jean.dupont@", "L'adresse e-mail doit comporter un domaine après le « @ »."),
        (
            "jean.dupont@chu-lyon",
            "Le domaine « chu-lyon » de l'adresse e-mail est incomplet "
            "(exemple attendu : chu-exemple.fr).",
        ),
        ("marie claire@chu-lyon.fr", "L'adresse e-mail ne doit pas contenir d'espace."),
        ("jean..dupont@chu-lyon.fr", "L'adresse e-mail n'est pas valide ("),
        ("jean.dupont@chu_lyon.fr", "L'adresse e-mail n'est pas valide ("),
    ],
)
def test_email_refused_with_french_message(raw: str, message: str) -> None:
    with pytest.raises(IdentifierError) as exc_info:
        check_email(raw)
    assert exc_info.value.message.startswith(message)


# --- Commune ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Rouen", "Rouen"),
        (" rouen ", "rouen"),
        ("ROUEN CEDEX 1", "ROUEN CEDEX 1"),
        ("saint etienne", "saint etienne"),
        ("Le Kremlin-Bicêtre", "Le Kremlin-Bicêtre"),
    ],
)
def test_a_commune_of_the_official_list_has_no_warning(raw: str, expected: str) -> None:
    assert check_commune(raw) == Checked(expected)


@pytest.mark.parametrize("raw", ["Rouenn", "Paris 13e"])
def test_a_name_that_is_no_commune_is_kept_with_a_warning(raw: str) -> None:
    checked = check_commune(raw)
    assert checked.value == raw
    assert checked.warning is not None
    assert checked.warning.startswith(f"« {raw} » n'est pas le nom d'une commune")
