"""The pieces every part of the campaign format shares: strict frozen models, keys and
references to a field as "volet.field". Apart from `schema` so that the modules that extend
the format (`after_decision`) use them without importing `schema`, which imports them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"
FIELD_REF_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
Key = Annotated[str, Field(pattern=KEY_PATTERN, max_length=60)]
# A reference to a field as "volet.field".
FieldRef = Annotated[str, Field(pattern=FIELD_REF_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
