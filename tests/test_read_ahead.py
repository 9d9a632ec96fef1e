"""Reading ahead: the items come in order, a producer's error reaches the consumer, and a
consumer that stops early stops the producer before it goes on."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from workflow.plumbing.read_ahead import read_ahead


def test_every_item_comes_in_order():
    assert list(read_ahead(iter(range(1000)), depth=2)) == list(range(1000))


def test_the_producer_stays_a_few_items_ahead_of_the_consumer():
    produced = []

    def source():
        for n in range(100):
            produced.append(n)
            yield n

    items = read_ahead(source(), depth=2)
    assert next(items) == 0
    threading.Event().wait(0.2)  # room for the producer to run ahead, if it could
    # One taken, two in the queue, one waiting for room: never the whole source.
    assert len(produced) <= 4
    items.close()


def test_an_error_of_the_producer_is_raised_where_it_came():
    def source():
        yield 1
        yield 2
        raise ValueError("la lecture a échoué")

    items = read_ahead(source())
    assert next(items) == 1
    assert next(items) == 2
    with pytest.raises(ValueError, match="la lecture a échoué"):
        next(items)


def test_a_consumer_that_stops_stops_the_producer_before_it_returns():
    finished = threading.Event()

    def source():
        try:
            yield from range(10_000)
        finally:
            finished.set()

    with closing(read_ahead(source(), depth=2)) as items:
        for n in items:
            if n == 3:
                break
    # Closed: the producer's thread has ended and closed its source; nothing reads any more.
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
    assert finished.is_set()


def test_a_consumer_error_stops_the_producer_too():
    def source():
        yield from range(10_000)

    with pytest.raises(RuntimeError), closing(read_ahead(source())) as items:
        for n in items:
            if n == 5:
                raise RuntimeError("l'écriture a échoué")
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
