"""La Poste's postal codes with the communes each one serves: the npm package `codes-postaux`
(Base Adresse Nationale and La Poste data), read from `node_modules/` at run time as the DSFR
is, never copied into the repository. `frformat` ships the codes and the communes as two
separate lists, without the table that joins them.

Without the package (no `npm install`), `communes_of` answers None: the postal code is then
checked by its shape and frformat's list only, and the town is not compared with it."""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "node_modules" / "codes-postaux" / "codes-postaux.json"

# "Paris 13e Arrondissement", "Lyon 1er Arrondissement": people write the city's name.
_ARRONDISSEMENT = re.compile(r"^(Paris|Lyon|Marseille) \d+(er|e) Arrondissement$")
# "76031 ROUEN CEDEX 1": the CEDEX mention is La Poste's, not part of the commune's name.
_CEDEX = re.compile(r"\s+cedex(\s+[0-9]{1,2})?\s*$", re.IGNORECASE)
_ABBREVIATIONS = {"st": "saint", "ste": "sainte"}


def normalised(name: str) -> str:
    """A town's name as compared: no case, accents, hyphens, apostrophes, CEDEX mention or
    « St »/« Ste » abbreviation held against the déposant."""
    text = unicodedata.normalize("NFKD", _CEDEX.sub("", name))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


class PostalCodes:
    """The table: each postal code, the communes it serves as people write them, and every
    spelling that names one of them (La Poste's « libellé d'acheminement » included)."""

    def __init__(self, entries: list[dict[str, str]]):
        self.communes: dict[str, list[str]] = {}
        self.spellings: dict[str, set[str]] = {}
        for entry in entries:
            code, name = entry["codePostal"], entry["nomCommune"]
            city = _ARRONDISSEMENT.match(name)
            shown = city.group(1) if city else name
            names = self.communes.setdefault(code, [])
            if shown not in names:
                names.append(shown)
            known = self.spellings.setdefault(code, set())
            known.update(normalised(n) for n in (name, shown, entry.get("libelleAcheminement", "")))
            # « THILLAY (LE) » is also written « Le Thillay ».
            article = re.fullmatch(r"(.+) \((L'|LE|LA|LES)\)", entry.get("libelleAcheminement", ""))
            if article:
                known.add(normalised(f"{article.group(2)} {article.group(1)}"))


@functools.cache
def load(path: Path = DATA) -> PostalCodes | None:
    """The table read once per process, or None when the npm package is not installed."""
    if not path.is_file():
        return None
    return PostalCodes(json.loads(path.read_text(encoding="utf-8")))


def communes_of(code: str, path: Path = DATA) -> list[str] | None:
    """The communes a postal code serves (« 95500 »: Bonneuil-en-France, Gonesse, Le Thillay,
    Vaudherland), [] for a code La Poste does not list, None without the table."""
    table = load(path)
    if table is None:
        return None
    return list(table.communes.get(code, []))


def serves(code: str, town: str, path: Path = DATA) -> bool | None:
    """Whether `town` is one of the communes of `code` (« Paris » for 75013 is); None when it
    cannot be told: no table, or a code it does not list (a CEDEX code)."""
    table = load(path)
    if table is None or code not in table.spellings:
        return None
    return normalised(town) in table.spellings[code]
