"""The one source of time.

Every component that needs "now" receives a :class:`Clock` instead of calling
``datetime.now()``, so the same engine runs in real time against Asterisk and in
virtual time inside tests and the simulator.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the core needs to know about time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; for measuring intervals."""
        ...


class SystemClock:
    """Wall-clock time of the machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class VirtualClock:
    """A clock that only moves when told to; for tests and simulation.

    ``monotonic()`` is seconds since the clock was created, so intervals measured
    on it agree with ``now()``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._start = start.astimezone(UTC)
        self._elapsed = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        """Move time forward; negative steps are refused because time never runs back."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._elapsed += seconds

    def set(self, when: datetime) -> None:
        """Jump to an absolute instant (not earlier than now)."""
        self.advance((when.astimezone(UTC) - self.now()).total_seconds())


class ShiftedClock:
    """Real time plus an offset that can jump forward: real calls, with retries and windows
    reached without waiting hours (the campaign tests and the demo use it).
    """

    def __init__(self, start: datetime | None = None, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = timedelta(0) if start is None else start.astimezone(UTC) - self._base.now()
        self._jumped = 0.0

    def now(self) -> datetime:
        return self._base.now() + self._offset

    def monotonic(self) -> float:
        return self._base.monotonic() + self._jumped

    def jump(self, seconds: float) -> None:
        """Move time forward by ``seconds`` at once."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._offset += timedelta(seconds=seconds)
        self._jumped += seconds
