"""The bounded FIFO between the socket reader and the one events() consumer.

``asyncio.Queue`` costs a coroutine and several checks per ``put``/``get``; with ten thousand events a
second on a busy PBX that was a fifth of the whole pipeline. This buffer is a ``deque`` that wakes the
consumer only when it is actually waiting: appending and taking are plain list operations.
Single consumer, single event loop, like everything in the AMI layer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class BufferFull(Exception):
    """``put_nowait`` on a buffer holding ``maxsize`` items."""


class EventBuffer(Generic[T]):
    """A FIFO of at most ``maxsize`` items: non-blocking puts from callbacks, awaited takes."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize = {maxsize}: must be at least 1")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._readable: asyncio.Future[None] | None = None  # the consumer waits on it when empty
        self._writable: asyncio.Future[None] | None = None  # an awaited put waits on it when full

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        """Append ``item``; raises :class:`BufferFull` (and keeps nothing) when full."""
        if len(self._items) >= self.maxsize:
            raise BufferFull
        self._items.append(item)
        waiter = self._readable
        if waiter is not None:
            self._readable = None
            if not waiter.done():
                waiter.set_result(None)

    def put_many(self, items: Sequence[T]) -> int:
        """Append as many of ``items`` as there is room for, in order, waking the consumer once; how many."""
        room = self.maxsize - len(self._items)
        if room <= 0:
            return 0
        if len(items) > room:
            items = items[:room]
        self._items.extend(items)
        waiter = self._readable
        if waiter is not None and items:
            self._readable = None
            if not waiter.done():
                waiter.set_result(None)
        return len(items)

    async def put(self, item: T) -> None:
        """Append ``item``, waiting for room first."""
        while len(self._items) >= self.maxsize:
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable
        self.put_nowait(item)

    async def get(self) -> T:
        """The oldest item, waiting for one when empty."""
        while not self._items:
            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
        return self.take()

    def take(self) -> T:
        """The oldest item without waiting (the consumer's fast path); IndexError when empty."""
        item = self._items.popleft()
        waiter = self._writable
        if waiter is not None:
            self._writable = None
            if not waiter.done():
                waiter.set_result(None)
        return item
