"""The in-process event bus: fan-out by kind, never blocking the publisher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from dialer.events.bus import BusEvent, EventBus

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Pop(BusEvent):
    n: int


@dataclass(frozen=True, slots=True)
class Other(BusEvent):
    pass


async def test_each_subscriber_gets_the_kinds_it_asked_for() -> None:
    bus = EventBus()
    pops, everything = bus.subscribe(Pop), bus.subscribe()
    assert bus.publish(Pop(AT, 1)) == 2
    assert bus.publish(Other(AT)) == 1
    assert await pops.get() == Pop(AT, 1)
    assert [await everything.get(), await everything.get()] == [Pop(AT, 1), Other(AT)]


async def test_a_subscriber_that_falls_behind_loses_its_oldest_events() -> None:
    bus = EventBus(subscriber_queue=2)
    sub = bus.subscribe(Pop)
    for n in range(5):
        bus.publish(Pop(AT, n))
    assert sub.dropped == 3
    assert sub.pending() == [Pop(AT, 3), Pop(AT, 4)]
    assert sub.pending() == []


async def test_a_closed_subscription_receives_nothing_and_closing_twice_is_harmless() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    sub.close()
    sub.close()
    assert bus.publish(Pop(AT, 1)) == 0


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="subscriber_queue = 0"):
        EventBus(subscriber_queue=0)
