"""Values typed by people, read in one place: a value that cannot be read is None, and the
page says so in French."""

from __future__ import annotations

import datetime as dt


def parse_date(text: str) -> dt.date | None:
    """A date typed as 2019-11-04 (date input) or 04/11/2019; None when unreadable."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None
