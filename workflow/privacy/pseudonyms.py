"""Stable pseudonyms: the same name or address always gives the same pseudonym, so a purged
audit trail still tells that two events were made by one person, without saying who.

A keyed hash (HMAC-SHA-256 with the service's secret key): a plain hash of an address could
be found again by hashing a list of known addresses.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

# What replaces a personal value that keeps no meaning once purged (a name in a free text).
MARKER = "[supprimé]"
# Labels that name no person: the scheduler and an anonymous visitor.
IMPERSONAL = frozenset({"planificateur", "anonyme", MARKER})


class Pseudonyms:
    """Pseudonyms under one key; `known` holds the personal values of the purged dossiers,
    which become pseudonyms wherever the audit trail quotes them."""

    def __init__(self, key: str, known: set[str] | None = None):
        self._key = key.encode()
        self.known = {self._norm(value) for value in known or ()}

    @staticmethod
    def _norm(value: str) -> str:
        return " ".join(value.split()).casefold()

    def of(self, value: str) -> str:
        """« personne-3f9a0c1d2b4e » for a name or an address (case and spaces ignored)."""
        digest = hmac.new(self._key, self._norm(value).encode(), hashlib.sha256).hexdigest()
        return f"personne-{digest[:12]}"

    def label(self, value: str) -> str:
        """An actor's label: a pseudonym unless it names no person."""
        return value if value in IMPERSONAL else self.of(value)

    def payload(self, value: Any, key: str | None = None) -> Any:
        """A payload with every personal string replaced: addresses and the dossiers' known
        values by their pseudonym, any other free text under a key not known to hold a code
        by the marker. Numbers, booleans and codes stay."""
        if isinstance(value, dict):
            return {k: self.payload(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.payload(v, key) for v in value]
        if not isinstance(value, str) or not value:
            return value
        if "@" in value or self._norm(value) in self.known:
            return self.of(value)
        if key in CODE_KEYS:
            return value
        return MARKER


# Payload keys whose values are codes of the campaign or the machine, never a person's words
# (workflow/machine, editing, avis, instructors: « volet », « piece », « avis », « verdict »…).
CODE_KEYS = frozenset(
    {
        "avis",
        "verdict",
        "volet",
        "piece",
        "pieces",
        "number",
        "event",
        "state",
        "from",
        "to",
        "kind",
        "decision",
        "role",
        "avant",
        "apres",
        "deadline",
        "ancienne",
        "nouvelle",
        "due_at",
        "at",
        "size",
        "sha256",
    }
)
