from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.timestamps import from_db, from_db_or_none, to_db, to_db_or_none

SHANGHAI = timezone(timedelta(hours=8))
aware = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def test_to_db_writes_utc_with_z_and_fixed_width() -> None:
    local = datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI)
    assert to_db(local) == "2026-03-01T00:30:00.000000Z"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 3, 1, 8, 30))


def test_from_db_accepts_any_offset_and_returns_utc() -> None:
    assert from_db("2026-03-01T08:30:00+08:00") == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert from_db("2026-03-01T00:30:00.000000Z").tzinfo == UTC


def test_from_db_refuses_text_without_offset() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        from_db("2026-03-01T08:30:00")


def test_optional_helpers_pass_none_through() -> None:
    assert to_db_or_none(None) is None
    assert from_db_or_none(None) is None


@given(aware)
def test_round_trip(dt: datetime) -> None:
    assert from_db(to_db(dt)) == dt


@given(aware, aware)
def test_text_order_is_time_order(a: datetime, b: datetime) -> None:
    assert (to_db(a) < to_db(b)) == (a < b)
