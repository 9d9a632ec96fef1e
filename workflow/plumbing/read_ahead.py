"""Reading ahead of a slow producer: the next batches of rows are fetched in a thread while
the current one is worked on.

Why a thread: a PostgreSQL export waits for the server at every batch of its server-side
cursor (FETCH, then the rows travel), and during that wait Python did nothing; the server
formats the next batch on one core while Python writes the last one on the other. psycopg
releases the GIL while it waits, so the overlap is real; the Python work itself is not
parallel. The queue is bounded: memory stays that of a few batches, whatever the size of
the export.

The producer's thread is the only one to touch what it reads until `read_ahead` ends, and
`read_ahead` ends only once that thread has stopped: whoever closes the connection after it
(a transaction rolled back on an error) never does so under a fetch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()
# How long the producer waits for room in the queue before it looks again whether the
# consumer stopped; only a stopped export waits that long.
_POLL = 0.05


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(source: Iterable[T], depth: int = 2) -> Iterator[T]:
    """The items of `source`, produced by a thread of their own at most `depth` items ahead of
    the consumer. An error of the producer is raised to the consumer, where it came in the
    sequence. Closing the iterator (or leaving a loop over it by an error) stops the producer
    and waits for it: use it in `contextlib.closing` when it may be left before its end."""
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def put(item: object) -> bool:
        while not stopped.is_set():
            try:
                items.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - handed over to the consumer
            put(_Failed(error))
        else:
            put(_DONE)
        finally:
            # A generator left midway is closed here, in the thread that read it.
            close = getattr(source, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name="read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)
    finally:
        stopped.set()
        producer.join()
