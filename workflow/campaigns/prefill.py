"""What a volet starts from before its first « Enregistrer »: the fields a campaign marks as
the déposant's own (`prefill: organisation.name`, `.finess`, `.address`…) take the values of
the account's organisation, so that nothing is typed twice; the déposant may change them."""

from __future__ import annotations

from typing import Any

from workflow.campaigns.schema import Volet
from workflow.models import Organisation


def prefilled(volet: Volet, organisation: Organisation) -> dict[str, Any]:
    """The volet's fields that the organisation's account fills in, with their values (a
    field whose account value is empty is left out)."""
    values: dict[str, Any] = {}
    for field in volet.fields:
        if field.prefill is None:
            continue
        value = getattr(organisation, field.prefill.removeprefix("organisation."), None)
        if value:
            values[field.key] = value
    return values
