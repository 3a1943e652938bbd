"""One parser for every "HH:MM-HH:MM" setting; "24:00" closes a span at midnight."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from dialer.domain.campaigns.policy import CallingWindows
from dialer.domain.dayspans import END_OF_DAY, SpanError, parse_span
from dialer.domain.sms.rules import SendRules
from dialer.settings import SmsSettings, WindowDefaults

ALL_DAY = "00:00-24:00"


def shanghai(hour: int, minute: int, second: int = 0) -> datetime:
    """2026-11-30 (a Monday) at the given Shanghai time, as UTC."""
    return datetime(2026, 11, 30, hour, minute, second, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("08:30-12:00", (time(8, 30), time(12, 0))),
        (" 00:00-24:00 ", (time(0, 0), END_OF_DAY)),
        ("23:00-24:00", (time(23, 0), END_OF_DAY)),
    ],
)
def test_spans_parse(text: str, span: tuple[time, time]) -> None:
    assert parse_span(text) == span


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("8:30-12:00", "is not HH:MM-HH:MM"),
        ("08:30", "is not HH:MM-HH:MM"),
        ("24:00-24:00", "impossible time"),  # 24:00 only ends a span
        ("10:00-24:30", "impossible time"),
        ("10:00-25:00", "impossible time"),
        ("10:60-11:00", "impossible time"),
        ("12:00-12:00", "ends before it begins"),
        ("20:00-09:00", "ends before it begins"),
    ],
)
def test_bad_spans_are_named(text: str, says: str) -> None:
    with pytest.raises(SpanError, match=says):
        parse_span(text)


def test_a_window_to_24_00_is_open_in_the_day_s_last_minute_and_the_sms_window_too() -> None:
    every_day = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ALL_DAY)
    windows = CallingWindows.from_settings(
        replace(WindowDefaults(), last_call_margin_s=0.0, **every_day), "Asia/Shanghai"
    )
    for moment in (shanghai(0, 0), shanghai(23, 59), shanghai(23, 59, 59)):
        assert windows.is_open(moment), moment
        assert windows.next_opening(moment) == moment
    rules = SendRules.from_settings(SmsSettings(window=ALL_DAY), "Asia/Shanghai")
    assert rules.next_send_time(shanghai(23, 59, 30)) == shanghai(23, 59, 30)
    # "23:59" as the end leaves that minute closed: the reason 24:00 exists.
    closing = SendRules.from_settings(SmsSettings(window="00:00-23:59"), "Asia/Shanghai")
    assert closing.next_send_time(shanghai(23, 59, 30)) == shanghai(0, 0) + timedelta(days=1)
