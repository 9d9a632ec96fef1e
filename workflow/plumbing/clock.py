"""The one source of "now", so that tests move time with time-machine."""

import datetime as dt


def now() -> dt.datetime:
    """The current instant, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)
