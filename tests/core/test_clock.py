"""The clocks: virtual time for the simulator, shifted real time for the campaign drills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialer.clock import ShiftedClock, VirtualClock


def test_virtual_clock_moves_only_when_told() -> None:
    clock = VirtualClock(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(90)
    assert clock.now() == datetime(2026, 11, 30, 2, 1, 30, tzinfo=UTC) and clock.monotonic() == 90
    with pytest.raises(ValueError, match="a clock cannot go backwards"):
        clock.advance(-1)


def test_shifted_clock_starts_where_asked_and_jumps_forward() -> None:
    start = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    clock = ShiftedClock(start)
    assert abs((clock.now() - start).total_seconds()) < 60
    before, mono = clock.now(), clock.monotonic()
    clock.jump(600)
    assert clock.now() - before >= timedelta(seconds=600)
    assert clock.monotonic() - mono >= 600
    with pytest.raises(ValueError, match="a clock cannot go backwards"):
        clock.jump(-5)
