"""Validators for the identifiers and contact fields of ARS application forms.

Every ``check_*`` function takes the raw text typed by the user and either returns a
:class:`Checked` (the normalised value to store, plus an optional warning) or raises
:class:`IdentifierError` whose message, in French, is shown next to the field.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret

__all__ = [
    "Checked",
    "IdentifierError",
    "check_commune",
    "check_email",
    "check_finess",
    "check_phone",
    "check_postal_code",
    "check_rpps",
    "check_siren",
    "check_siret",
    "format_phone_fr",
    "luhn_valid",
]


class IdentifierError(ValueError):
    """Raised with a French message for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Checked:
    """Outcome of a successful check: the value to store and an optional French warning."""

    value: str
    warning: str | None = None


EMPTY_MESSAGE = "Ce champ est vide."

# `str.isdigit` and `\d` also accept non-ASCII digits ("²", "٣"), which must not reach storage.
_ASCII_DIGITS = re.compile(r"[0-9]+")

# SIREN and SIRET keys are python-stdnum's, La Poste's exception included (its
# establishments, SIREN 356000000 except the head office 35600000000048, are checked by "sum of
# the digits is a multiple of 5"); tests/test_identifiers.py pins that case. FINESS and RPPS
# keys, which no library checks, are computed here with `luhn_valid`.

# Corsica's two departments are 2A and 2B in FINESS; these numbers carry no computable key.
_CORSICAN_FINESS_PREFIXES = ("2A", "2B")

# 20 covers both Corsican departments (20000-20999); 96 and 99 are not allocated and 00 never.
_POSTAL_DEPARTMENT_PREFIXES = frozenset(
    [f"{n:02d}" for n in range(1, 96)] + ["97", "98"],
)

_PHONE_EXAMPLE = "06 12 34 56 78 ou +33 6 12 34 56 78"
# Overseas departments use the French "0 + 9 digits" national plan but have their own country
# codes; the ARS of La Réunion, Mayotte, Guadeloupe, Martinique and Guyane need them.
_FRENCH_REGIONS_BY_COUNTRY_CODE: dict[str, tuple[str, ...]] = {
    "33": ("FR",),
    "262": ("RE", "YT"),
    "590": ("GP", "BL", "MF"),
    "594": ("GF",),
    "596": ("MQ",),
}
_OVERSEAS_REGIONS = ("RE", "YT", "GP", "BL", "MF", "MQ", "GF")
_FRENCH_COUNTRY_CODES = frozenset(int(code) for code in _FRENCH_REGIONS_BY_COUNTRY_CODE)


def luhn_valid(digits: str) -> bool:
    """Return True when ``digits`` (ASCII digits only, non-empty) satisfies the Luhn key.

    Anything else (empty string, letters, spaces, non-ASCII digits) returns False.
    """
    if not _ASCII_DIGITS.fullmatch(digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _compact(raw: str, removable: str = "") -> str:
    """Strip ``raw``, drop inner whitespace and ``removable`` characters; refuse empty input."""
    # split() also catches the non-breaking spaces that French word processors insert.
    text = "".join(raw.split())
    for char in removable:
        text = text.replace(char, "")
    if not text:
        raise IdentifierError(EMPTY_MESSAGE)
    return text


def _typed(count: int) -> str:
    return f"{count} saisi" if count == 1 else f"{count} saisis"


def _quoted_list(chars: str) -> str:
    """French enumeration of the distinct characters of ``chars``, in order of appearance."""
    distinct = list(dict.fromkeys(chars))
    return ", ".join(f"« {char} »" for char in distinct)


def _require_digits(text: str, label: str, length: int) -> None:
    """Refuse ``text`` unless it is exactly ``length`` ASCII digits."""
    invalid = re.sub(r"[0-9]", "", text)
    if invalid:
        noun = "caractère" if len(set(invalid)) == 1 else "caractères"
        adjective = "autorisé" if len(set(invalid)) == 1 else "autorisés"
        raise IdentifierError(
            f"{label} ne doit contenir que des chiffres "
            f"({noun} {_quoted_list(invalid)} non {adjective})."
        )
    if len(text) != length:
        raise IdentifierError(f"{label} doit comporter {length} chiffres ({_typed(len(text))}).")


def _key_error(label: str) -> IdentifierError:
    return IdentifierError(f"La clé de contrôle du {label} est invalide : vérifiez le numéro.")


def check_finess(raw: str) -> Checked:
    """Validate a FINESS number (9 characters).

    All-digit numbers must satisfy the Luhn key over the nine digits. Corsican numbers
    (``2A`` or ``2B`` followed by 7 digits) are checked for format only. The stored value has
    no spaces and upper-case letters.
    """
    value = _compact(raw).upper()
    if len(value) != 9:
        raise IdentifierError(f"Le n° FINESS doit comporter 9 caractères ({_typed(len(value))}).")
    if value[:2] in _CORSICAN_FINESS_PREFIXES:
        if not _ASCII_DIGITS.fullmatch(value[2:]):
            raise IdentifierError(
                f"Après « {value[:2]} », le n° FINESS ne doit contenir que des chiffres."
            )
        return Checked(value)
    if not _ASCII_DIGITS.fullmatch(value):
        raise IdentifierError(
            "Le n° FINESS ne doit contenir que des chiffres, "
            "sauf « 2A » ou « 2B » en tête pour la Corse."
        )
    if not luhn_valid(value):
        raise _key_error("n° FINESS")
    return Checked(value)


def check_siren(raw: str) -> Checked:
    """Validate a SIREN number: 9 digits with a Luhn key (checked by python-stdnum)."""
    value = _compact(raw)
    _require_digits(value, "Le n° SIREN", 9)
    if not stdnum_siren.is_valid(value):
        raise _key_error("n° SIREN")
    return Checked(value)


def check_siret(raw: str) -> Checked:
    """Validate a SIRET number: 14 digits, its SIREN valid, and its key as python-stdnum
    computes it (Luhn over the 14 digits; for La Poste's establishments, INSEE's exception:
    the sum of the 14 digits is a multiple of 5)."""
    value = _compact(raw)
    _require_digits(value, "Le n° SIRET", 14)
    if not stdnum_siren.is_valid(value[:9]):
        raise IdentifierError(
            "La clé de contrôle du SIREN (9 premiers chiffres du n° SIRET) est invalide : "
            "vérifiez le numéro."
        )
    if not stdnum_siret.is_valid(value):
        raise _key_error("n° SIRET")
    return Checked(value)


RPPS_KEY_WARNING = (
    "La clé du n° RPPS ne correspond pas à l'algorithme habituel : vérifiez le numéro."
)


def check_rpps(raw: str) -> Checked:
    """Validate an RPPS number: exactly 11 digits.

    The RPPS key is not officially documented, so a Luhn mismatch only yields a warning
    and the number is still accepted.
    """
    value = _compact(raw)
    _require_digits(value, "Le n° RPPS", 11)
    if not luhn_valid(value):
        return Checked(value, warning=RPPS_KEY_WARNING)
    return Checked(value)


POSTAL_CODE_UNLISTED_WARNING = (
    "Code postal inconnu : {code} n'est pas dans la liste officielle de La Poste ; "
    "vérifiez-le (un code CEDEX, absent de cette liste, est accepté)."
)


@functools.cache
def _official_postal_codes() -> Any:
    # The State's `frformat` ships La Poste's list (its module takes a second to import: only
    # when a postal code is first checked, not at every start).
    from frformat import CodePostal

    return CodePostal()


def check_postal_code(raw: str) -> Checked:
    """Validate a French postal code: 5 digits starting with an existing department, then
    looked up in La Poste's official list of postal codes (from the `frformat` package).

    Accepted prefixes are 01 to 95 (20 for Corsica), 97 and 98; anything else is refused. A
    code with a valid prefix that is not in the list is kept with a warning: CEDEX codes,
    which hospitals often use ("76031 Rouen Cedex"), are not in La Poste's distribution
    list. The value stays a string so that the leading zero of "01000" is kept.
    """
    value = _compact(raw)
    _require_digits(value, "Le code postal", 5)
    if value[:2] not in _POSTAL_DEPARTMENT_PREFIXES:
        raise IdentifierError(
            f"Code postal inconnu : {value} ne correspond à aucun département "
            "(un code postal commence par 01 à 95, 97 ou 98)."
        )
    if not _official_postal_codes().is_valid(value):
        return Checked(value, warning=POSTAL_CODE_UNLISTED_WARNING.format(code=value))
    return Checked(value)


COMMUNE_UNLISTED_WARNING = (
    "« {name} » n'est pas le nom d'une commune du Code officiel géographique : vérifiez "
    "l'orthographe (par exemple « Saint-Étienne », « Le Kremlin-Bicêtre »)."
)
# "76031 ROUEN CEDEX 1": the CEDEX mention is La Poste's, not part of the commune's name.
_CEDEX = re.compile(r"\s+cedex(\s+[0-9]{1,2})?\s*$", re.IGNORECASE)


@functools.cache
def _official_communes() -> Any:
    # INSEE's Code officiel géographique as `frformat` ships it; case, accents, hyphens and
    # extra spaces are not held against the déposant.
    from frformat import Commune, Millesime, Options

    options = Options(
        ignore_case=True,
        ignore_accents=True,
        replace_non_alphanumeric_with_space=True,
        ignore_extra_whitespace=True,
    )
    return Commune(Millesime.LATEST, options)


def check_commune(raw: str) -> Checked:
    """Validate a town's name against the communes of INSEE's Code officiel géographique
    (from the `frformat` package). The name is kept as typed (spaces trimmed); one that is
    not a commune gets a warning only: a new commune or a district name may be right."""
    value = " ".join(raw.split())
    if not value:
        raise IdentifierError(EMPTY_MESSAGE)
    if len(value) > 120:
        raise IdentifierError(f"120 caractères au maximum ({len(value)} saisis).")
    if not _official_communes().is_valid(_CEDEX.sub("", value)):
        return Checked(value, warning=COMMUNE_UNLISTED_WARNING.format(name=value))
    return Checked(value)


def _grouped(national: str) -> str:
    """Group a national number by pairs ("06 12 34 56 78") to echo it back in messages."""
    return " ".join(national[i : i + 2] for i in range(0, len(national), 2))


def _regions_for_national(national: str) -> tuple[str, ...]:
    """Regions to try, in order, for a national "0 + 9 digits" number."""
    # The metropolitan metadata of phonenumbers is coarse and also claims some overseas
    # ranges (0596 Martinique, 0263 La Réunion...), which would be stored under +33. The
    # overseas metadata is precise, so it is tried first for geographic and mobile numbers;
    # 01, 03, 04, 08 and 09 numbers are metropolitan or national services.
    if national[1] in "2567":
        return (*_OVERSEAS_REGIONS, "FR")
    return ("FR",)


def _split_international(text: str) -> tuple[str, str]:
    """Split "+33(0)612345678" into ("33", "612345678"); refuse non-French country codes."""
    body = text[1:]
    for code in _FRENCH_REGIONS_BY_COUNTRY_CODE:
        # Country codes are prefix-free, so a French code cannot hide a foreign one.
        if body.startswith(code):
            rest = body[len(code) :]
            if rest.startswith("(0)"):
                rest = rest[3:]
            return code, rest
    try:
        foreign = phonenumbers.parse(text, None).country_code
    except phonenumbers.NumberParseException:
        foreign = None
    detail = f" (indicatif +{foreign} saisi)" if foreign else ""
    raise IdentifierError(f"Seuls les numéros de téléphone français sont acceptés{detail}.")


def check_phone(raw: str) -> Checked:
    """Validate a French phone number and normalise it to E.164 ("+33612345678").

    Accepted forms: "0" + 9 digits, or "+33" / "0033" + 9 digits with an optional "(0)";
    spaces, dots and dashes are ignored. Overseas departments are French numbers too:
    "0262 ..." is stored as "+262262...", and "+262", "+590", "+594", "+596" are accepted.
    Validity is checked against the numbering plan with the ``phonenumbers`` library.
    """
    text = _compact(raw, removable=".-")
    invalid = re.sub(r"[0-9+()]", "", text)
    if invalid:
        raise IdentifierError(
            "Le numéro de téléphone contient des caractères non autorisés : "
            f"{_quoted_list(invalid)}. Saisissez-le au format {_PHONE_EXAMPLE}."
        )
    if text.startswith("00"):
        text = "+" + text[2:]

    if text.startswith("+"):
        code, subscriber = _split_international(text)
        if not _ASCII_DIGITS.fullmatch(subscriber):
            raise IdentifierError(
                f"Le numéro de téléphone est mal formé : saisissez-le au format {_PHONE_EXAMPLE}."
            )
        if len(subscriber) == 10 and subscriber.startswith("0"):
            raise IdentifierError(
                f"Après l'indicatif +{code}, ne saisissez pas le 0 initial "
                "(exemple : +33 6 12 34 56 78)."
            )
        if len(subscriber) != 9:
            raise IdentifierError(
                f"Après l'indicatif +{code}, le numéro de téléphone doit comporter 9 chiffres "
                f"({_typed(len(subscriber))})."
            )
        national = "0" + subscriber
        regions = _FRENCH_REGIONS_BY_COUNTRY_CODE[code]
    elif text.startswith("0"):
        if not _ASCII_DIGITS.fullmatch(text):
            raise IdentifierError(
                f"Le numéro de téléphone est mal formé : saisissez-le au format {_PHONE_EXAMPLE}."
            )
        if len(text) != 10:
            raise IdentifierError(
                f"Le numéro de téléphone doit comporter 10 chiffres ({_typed(len(text))})."
            )
        national = text
        regions = _regions_for_national(national)
    else:
        raise IdentifierError("Le numéro de téléphone doit commencer par 0, +33 ou 0033.")

    for region in regions:
        number = phonenumbers.parse(national, region)
        if phonenumbers.is_valid_number_for_region(number, region):
            return Checked(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    raise IdentifierError(
        f"Le numéro {_grouped(national)} n'existe pas dans le plan de numérotation français : "
        "vérifiez-le."
    )


def format_phone_fr(e164: str) -> str:
    """Format a stored E.164 number for display: "+33612345678" -> "06 12 34 56 78".

    French numbers (overseas included) are shown in national format, others in international
    format. A value that cannot be parsed is returned unchanged, so that displaying legacy
    data never fails.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code in _FRENCH_COUNTRY_CODES:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def check_email(raw: str) -> Checked:
    """Validate an e-mail address (syntax only, no DNS lookup).

    The stored value is ``email_validator``'s normalised form (domain in lower case). Inner
    spaces are refused rather than removed: "marie claire@..." might silently become another
    person's address.
    """
    text = raw.strip()
    if not text:
        raise IdentifierError(EMPTY_MESSAGE)
    if any(char.isspace() for char in text):
        raise IdentifierError("L'adresse e-mail ne doit pas contenir d'espace.")
    at_count = text.count("@")
    if at_count == 0:
        raise IdentifierError("L'adresse e-mail doit contenir un « @ ».")
    if at_count > 1:
        raise IdentifierError("L'adresse e-mail ne doit contenir qu'un seul « @ ».")
    local, domain = text.split("@")
    if not local:
        raise IdentifierError("L'adresse e-mail doit comporter un nom avant le « @ ».")
    if not domain:
        raise IdentifierError("L'adresse e-mail doit comporter un domaine après le « @ ».")
    if "." not in domain:
        raise IdentifierError(
            f"Le domaine « {domain} » de l'adresse e-mail est incomplet "
            "(exemple attendu : chu-exemple.fr)."
        )
    try:
        normalized = _validated_email(text)
    except EmailNotValidError as exc:
        # The library's reason is English: kept in parentheses for support staff only.
        raise IdentifierError(f"L'adresse e-mail n'est pas valide ({exc}).") from exc
    return Checked(normalized)


@functools.lru_cache(maxsize=4096)
def _validated_email(text: str) -> str:
    # email_validator's syntax checks (IDNA tables, character classes) cost about 4 % of a
    # volet's save on the deadline rush (profiled), where the same addresses come again and again;
    # without DNS its answer depends on the text alone. Refusals raise, and are not cached.
    return validate_email(text, check_deliverability=False).normalized
