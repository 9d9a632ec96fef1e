"""Values typed by people, read in one place: a value that cannot be read is None (or the
default given), and the page says so in French.

Numbers are read from ASCII digits only: `str.isdigit()` is true for « ² » and « ٣ », which
`int()` then refuses or reads as another number, and an integer beyond the database's range
makes SQLite raise. Route converters read path numbers by the same rule."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask, Request, abort
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.routing import BaseConverter, ValidationError

# Every integer column (ids, versions, dossier numbers) is a 32-bit INTEGER on PostgreSQL.
DATABASE_INT_MAX = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,32}", re.ASCII)


def parse_date(text: str) -> dt.date | None:
    """A date typed as 2019-11-04 (date input) or 04/11/2019; None when unreadable."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def parse_int(
    text: str | None,
    default: int | None = None,
    *,
    minimum: int = 0,
    maximum: int = DATABASE_INT_MAX,
) -> int | None:
    """A whole number written in ASCII digits, within [minimum, maximum]; `default` when the
    text is absent, empty, signed, written with other digits, or out of range."""
    if not isinstance(text, str):
        return default
    text = text.strip()
    if not _ASCII_DIGITS.fullmatch(text):
        return default
    number = int(text)
    return number if minimum <= number <= maximum else default


class IdConverter(BaseConverter):
    """`<int:…>` in routes: ASCII digits within the database's range, else a 404 (Werkzeug's
    own converter takes « ٣ » for 3 and passes 10**30 on to the database)."""

    regex = r"[0-9]+"
    weight = 50

    def to_python(self, value: str) -> int:
        number = parse_int(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]


def _without_nul(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value


class WithoutNul(ImmutableMultiDict):  # type: ignore[type-arg]
    """Query and form parameters with their NUL characters removed: never typed by a person,
    they are refused by PostgreSQL in any text (a 500 at the first query) and kept by
    SQLite. Uploaded files pass through untouched."""

    def __init__(self, mapping: Any = None) -> None:
        if mapping is None:
            pairs = []
        elif isinstance(mapping, list):
            pairs = mapping  # the (key, value) pairs of the form parser: no copy through MultiDict
        else:
            pairs = MultiDict(mapping).items(multi=True)
        super().__init__([(_without_nul(key), _without_nul(value)) for key, value in pairs])


def _json_without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_json_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_json_without_nul(k): _json_without_nul(v) for k, v in value.items()}
    return value


class JsonWithoutNul(DefaultJSONProvider):
    """The app's JSON, read without the NUL characters of its strings (keys too), as forms
    are: an API client's « \\u0000 » in a motivation made PostgreSQL refuse the decision's
    INSERT (a 500) and SQLite keep it. Flask reads request bodies through `app.json`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return _json_without_nul(super().loads(s, **kwargs))


class CleanRequest(Request):
    parameter_storage_class = WithoutNul


def init_app(app: Flask) -> None:
    """Replaces the `int` route converter (called before the blueprints add their rules),
    reads parameters and JSON bodies without NUL characters, and answers a path holding one
    with a 404: no slug, key or token contains it."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = CleanRequest
    app.json = JsonWithoutNul(app)

    @app.url_value_preprocessor
    def refuse_nul_in_path(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and any("\x00" in str(value) for value in values.values()):
            abort(404)
