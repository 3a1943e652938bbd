"""Sending window, promotional caps and reply keywords."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dialer.config import load
from dialer.domain.sms.errors import SmsConfigError
from dialer.domain.sms.rules import ReplyKind, SendRules
from dialer.settings import ConfigError, SmsSettings

RULES = SendRules.from_settings(SmsSettings(), "Asia/Shanghai")


def bj(hour: int, minute: int = 0, day: int = 29) -> datetime:
    """A Beijing local time on 2026-11-<day>, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (bj(9), bj(9)),
        (bj(7, 59), bj(8)),
        (bj(21), bj(8, day=30)),
        (bj(23, 30), bj(8, day=30)),
        (bj(20, 59), bj(20, 59)),
    ],
)
def test_messages_wait_for_the_sending_window(now: datetime, expected: datetime) -> None:
    assert RULES.next_send_time(now) == expected


def test_daily_and_weekly_promotional_caps() -> None:
    rules = SendRules.from_settings(SmsSettings(max_promo_per_day=1, max_promo_per_week=2), "Asia/Shanghai")
    now = bj(10)
    assert rules.cap_reason(now, []) is None
    assert "daily cap" in (rules.cap_reason(now, [bj(8, 30)]) or "")
    # Yesterday evening local time is another day (UTC midnight would have said "today").
    assert rules.cap_reason(now, [bj(20, day=28)]) is None
    assert "weekly cap" in (rules.cap_reason(now, [bj(20, day=28), bj(10, day=25)]) or "")
    assert rules.cap_reason(now, [bj(20, day=28), bj(9, day=22)]) is None  # more than 7 days ago


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("T", ReplyKind.OPT_OUT),
        ("t", ReplyKind.OPT_OUT),
        ("TD", ReplyKind.OPT_OUT),
        (" 退订！", ReplyKind.OPT_OUT),
        ("1", ReplyKind.INTERESTED),
        ("好的。", ReplyKind.INTERESTED),
        ("ｙｅｓ", ReplyKind.INTERESTED),
        ("退订了吗？我想买车", ReplyKind.OTHER),
        ("Thanks", ReplyKind.OTHER),
        ("11", ReplyKind.OTHER),
    ],
)
def test_reply_keywords_must_be_the_whole_reply(text: str, kind: ReplyKind) -> None:
    assert RULES.classify(text) is kind


def test_a_keyword_that_both_opts_out_and_shows_interest_is_a_config_error() -> None:
    with pytest.raises(SmsConfigError, match="both opt out and show interest"):
        SendRules.from_settings(SmsSettings(interested_keywords=("T",)), "Asia/Shanghai")


def test_a_decline_counts_only_as_the_answer_to_a_visit_and_never_confirms() -> None:
    assert RULES.classify("不需要！") is ReplyKind.OPT_OUT
    assert RULES.classify("不需要！", about_visit=True) is ReplyKind.DECLINED
    assert RULES.classify("退订", about_visit=True) is ReplyKind.OPT_OUT
    assert RULES.classify("好的", about_visit=True) is ReplyKind.INTERESTED
    with pytest.raises(SmsConfigError, match="both confirm and call off a visit"):
        SendRules.from_settings(SmsSettings(visit_decline_keywords=("好的",)), "Asia/Shanghai")


def test_bad_window_is_reported_by_the_settings_loader() -> None:
    with pytest.raises(ConfigError, match=re.escape("sms.window = '21:00-08:00'")):
        load(None, env={"DIALER__SMS__WINDOW": "21:00-08:00"})
