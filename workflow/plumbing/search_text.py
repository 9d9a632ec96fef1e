"""Text as the instructors' search compares it: lower case, without accents or ligatures,
single spaces. Stored in a column (dossiers.search_text) and applied to the query the same
way, so that « hopital » finds « Hôpital » on SQLite as on PostgreSQL."""

from __future__ import annotations

import unicodedata

# Letters that Unicode does not decompose into a base letter and an accent.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})


def normalise(text: str | None) -> str:
    """`text` lower-cased, its accents and ligatures removed and its spaces collapsed."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.translate(_LIGATURES).split())
