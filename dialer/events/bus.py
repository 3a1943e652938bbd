"""A small in-process event bus: services publish typed events, faces subscribe.

Why it exists: a service (inbound routing, the supervisor) must tell the web console
"pop this lead card on agent2's screen" without importing the web face (arrows point
down, never up). The service publishes a frozen dataclass; the websocket handler of
the console subscribes and forwards what concerns its user.

Publishing never blocks and never fails because of a subscriber: each subscriber has
its own bounded queue, and a subscriber that does not keep up loses its OLDEST events
(counted in :attr:`Subscription.dropped`), because for a screen pop the latest call
matters and a stuck browser tab must not hold up a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from dialer.logs import get_logger

log = get_logger(__name__)

# Enough for every event of a busy minute; a subscriber further behind is stuck, not slow.
DEFAULT_SUBSCRIBER_QUEUE = 256


@dataclass(frozen=True, slots=True)
class BusEvent:
    """Base class of everything on the bus: each event says when it happened."""

    at: datetime


class Subscription:
    """One subscriber's queue; iterate it (``async for``) or :meth:`get` from it; :meth:`close` to leave."""

    def __init__(self, bus: EventBus, kinds: tuple[type[BusEvent], ...], size: int) -> None:
        self._bus = bus
        self._kinds = kinds
        self._queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def wants(self, event: BusEvent) -> bool:
        """Whether this subscriber asked for events of this kind."""
        return isinstance(event, self._kinds)

    def offer(self, event: BusEvent) -> None:
        """Queue ``event``, dropping the oldest one when full (never blocks the publisher)."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> BusEvent:
        """The next event, waiting for one."""
        return await self._queue.get()

    def pending(self) -> list[BusEvent]:
        """Every event queued right now, oldest first, without waiting (a reconnecting websocket catching up)."""
        events = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        return events

    def close(self) -> None:
        """Stop receiving; events already queued are discarded with the subscription."""
        self._bus.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[BusEvent]:
        while True:
            yield await self._queue.get()


class EventBus:
    """Fan-out of typed events to every interested subscriber of this process."""

    def __init__(self, subscriber_queue: int = DEFAULT_SUBSCRIBER_QUEUE) -> None:
        if subscriber_queue < 1:
            raise ValueError(f"subscriber_queue = {subscriber_queue}: must be at least 1")
        self._size = subscriber_queue
        self._subscribers: list[Subscription] = []

    def subscribe(self, *kinds: type[BusEvent]) -> Subscription:
        """A new subscription to events of ``kinds`` (every event when none are given)."""
        sub = Subscription(self, kinds or (BusEvent,), self._size)
        self._subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove ``sub``; removing twice is harmless (a websocket may close from both ends)."""
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def publish(self, event: BusEvent) -> int:
        """Deliver ``event`` to every interested subscriber now; returns how many got it."""
        delivered = 0
        for sub in self._subscribers:
            if sub.wants(event):
                before = sub.dropped
                sub.offer(event)
                if sub.dropped != before:
                    log.warning("bus.subscriber_behind", kind=type(event).__name__, dropped=sub.dropped)
                delivered += 1
        return delivered
