"""PostgreSQL cursors whose result description is built only when it is read.

psycopg builds a `Column` object per column of a result each time `cursor.description` is
asked, and SQLAlchemy asks at every execution, though a statement it has run before keeps
its result's columns cached and only tests the description for None. A transition reads
about fifty columns (the dossier and its campaign) and a save of a volet about thirty: these
objects were a sixth of a transition's CPU and a tenth of a save's under cProfile (issue 10).
The description given here has the same columns, described when first read.

It leans on one inner working of psycopg (3.1 to 3.3): a `Column` reads `pgresult`,
`_encoding` and `adapters` of the cursor it is given. A version that changes this fails
tests/test_pg_cursor.py, which compares every column with psycopg's own description.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import psycopg
from psycopg import Column
from psycopg.adapt import AdaptersMap
from psycopg.pq.abc import PGresult


class _Result:
    """What `psycopg.Column` reads of its cursor, held as it was when the description was
    asked: the cursor may run another statement before the columns are read."""

    __slots__ = ("_encoding", "adapters", "pgresult")

    def __init__(self, pgresult: PGresult, encoding: str, adapters: AdaptersMap) -> None:
        self.pgresult, self._encoding, self.adapters = pgresult, encoding, adapters


class LazyColumns(Sequence[Column]):
    """A result's description: its length known at once, its `Column`s made when read."""

    __slots__ = ("_columns", "_count", "_result")

    def __init__(self, result: _Result, count: int) -> None:
        self._result: _Result | None = result
        self._count = count
        self._columns: list[Column] | None = None

    def _described(self) -> list[Column]:
        if self._columns is None:
            assert self._result is not None
            self._columns = [Column(self._result, i) for i in range(self._count)]  # type: ignore[arg-type]
            self._result = None  # the PGresult need not outlive its columns
        return self._columns

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Column: ...
    @overload
    def __getitem__(self, index: slice) -> list[Column]: ...
    def __getitem__(self, index: int | slice) -> Column | list[Column]:
        return self._described()[index]

    def __iter__(self) -> Iterator[Column]:
        return iter(self._described())

    def __repr__(self) -> str:
        return repr(self._described())


class Cursor(psycopg.Cursor[Any]):
    """psycopg's client-side cursor, its `description` lazy (see the module's text)."""

    @property
    def description(self) -> list[Column] | None:  # type: ignore[override]
        result = self.pgresult
        if result is None or not result.nfields:
            # No rows, or psycopg's own cases of a result of no columns ("SELECT ;").
            return super().description
        return LazyColumns(  # type: ignore[return-value]
            _Result(result, self._encoding, self.adapters), result.nfields
        )
