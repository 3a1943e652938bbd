"""The dialer's own count of outbound lines, so it never asks the PBX for one too many.

The PBX enforces the same limit (GROUP_COUNT in the dialplan, rendered from the
same ``pbx.outbound_lines``); this side makes the extra call wait or fail with a
clear message instead of being refused by the carrier side.
"""

from __future__ import annotations

import asyncio


class LinesBusy(Exception):
    """Every outbound line is in use and the caller chose not to wait."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"all {capacity} outbound lines are in use")
        self.capacity = capacity


class LineLimiter:
    """A counting gate over ``capacity`` lines; FIFO for waiters."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._free = asyncio.Semaphore(capacity)
        self._in_use = 0
        self.peak = 0

    @property
    def in_use(self) -> int:
        return self._in_use

    async def acquire(self, wait: bool = True) -> None:
        """Take a line; with ``wait=False`` raise :class:`LinesBusy` instead of queueing."""
        if not wait and self._free.locked():
            raise LinesBusy(self.capacity)
        await self._free.acquire()
        self._in_use += 1
        self.peak = max(self.peak, self._in_use)

    def release(self) -> None:
        if self._in_use == 0:
            raise RuntimeError("release() without acquire()")
        self._in_use -= 1
        self._free.release()
