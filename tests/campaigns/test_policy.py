from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dialer import config
from dialer import settings as settings_mod
from dialer.clock import VirtualClock
from dialer.domain.calls.outcome import Outcome
from dialer.domain.campaigns.errors import PolicyError
from dialer.domain.campaigns.policy import (
    CallingWindows,
    CampaignRules,
    Candidate,
    Prioritizer,
    PriorityTier,
    RetryPolicy,
    RetryReason,
    parse_duration,
)
from dialer.settings import RetryDefaults, WindowDefaults

SH = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    """A Shanghai time in January 2026 (the 5th is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


WINDOWS = CallingWindows.from_settings(WindowDefaults(), "Asia/Shanghai")
POLICY = RetryPolicy.from_settings(RetryDefaults())


@pytest.mark.parametrize(
    ("outcome", "expected", "promised"),
    [
        (Outcome.BUSY, local(5, 10, 10), False),
        (Outcome.NO_ANSWER, local(5, 12, 0), False),
        (Outcome.CONGESTION, local(5, 10, 5), False),
        (Outcome.EARLY_HANGUP, local(5, 11, 0), False),
        (Outcome.ABANDONED, local(5, 10, 10), True),
        (Outcome.MACHINE, local(5, 14, 0), False),
        (Outcome.FAILED, local(5, 10, 5), False),
        (Outcome.UNKNOWN, local(5, 10, 30), False),
        (Outcome.REJECTED, local(6, 9, 0), False),
    ],
)
def test_default_retry_time_per_outcome(outcome: Outcome, expected: datetime, promised: bool) -> None:
    clock = VirtualClock(local(5, 9, 0))
    clock.advance(3600)  # the attempt ends at 10:00 local
    decision = POLICY.next_attempt(outcome, clock.now(), attempts=1, attempts_today=1, windows=WINDOWS)
    assert decision.at == expected
    assert decision.promised is promised


@pytest.mark.parametrize("outcome", [Outcome.VACANT, Outcome.ANSWERED])
def test_final_outcomes_are_never_retried_automatically(outcome: Outcome) -> None:
    decision = POLICY.next_attempt(outcome, local(5, 10), 1, 1, WINDOWS)
    assert (decision.at, decision.reason) == (None, RetryReason.NEVER)


def test_a_retry_at_1958_moves_to_next_morning_0900() -> None:
    # Busy at 19:48 + 10 min = 19:58: too close to the 20:00 close for a call to start.
    decision = POLICY.next_attempt(Outcome.BUSY, local(5, 19, 48), 1, 1, WINDOWS)
    assert decision.at == local(6, 9, 0)
    assert WINDOWS.next_opening(local(5, 19, 58)) == local(6, 9, 0)
    assert WINDOWS.next_opening(local(5, 19, 55)) == local(5, 19, 55)  # the last start the margin allows
    assert WINDOWS.next_opening(local(6, 6, 30)) == local(6, 9, 0)


def test_weekend_holiday_and_make_up_workday_rules() -> None:
    cfg = WindowDefaults(sat="", sun="10:00-18:00", holidays=("2026-01-12",), workdays=("2026-01-17",))
    w = CallingWindows.from_settings(cfg, "Asia/Shanghai")
    assert w.next_opening(local(9, 19, 58)) == local(11, 10, 0)  # Friday evening: Saturday closed, Sunday opens at 10
    assert w.next_opening(local(11, 18, 0)) == local(13, 9, 0)  # Monday the 12th is a holiday
    assert not w.is_open(local(12, 12, 0))
    assert w.is_open(local(17, 9, 30))  # Saturday the 17th is a make-up workday: Monday's hours
    assert not w.is_open(local(10, 12, 0))


def test_spans_with_a_lunch_break() -> None:
    w = CallingWindows.from_settings(replace(WindowDefaults(), mon="09:00-12:00, 14:00-20:00"), "Asia/Shanghai")
    assert w.next_opening(local(5, 12, 10)) == local(5, 14, 0)
    assert w.next_opening(local(5, 11, 56)) == local(5, 14, 0)  # under 5 min before the break closes is too late
    assert w.is_open(local(5, 11, 50))


def test_no_call_is_ever_scheduled_outside_the_windows() -> None:
    clock = VirtualClock(local(5, 9, 0))
    for _ in range(400):
        for outcome in Outcome:
            decision = POLICY.next_attempt(outcome, clock.now(), 1, 1, WINDOWS)
            assert decision.at is None or WINDOWS.is_open(decision.at)
        clock.advance(617)


def test_attempt_caps_per_lead_and_per_day() -> None:
    exhausted = POLICY.next_attempt(
        Outcome.BUSY, local(5, 10), attempts=POLICY.max_attempts, attempts_today=1, windows=WINDOWS
    )
    assert (exhausted.at, exhausted.reason) == (None, RetryReason.EXHAUSTED)
    day_full = POLICY.next_attempt(
        Outcome.BUSY, local(5, 10), attempts=3, attempts_today=POLICY.max_attempts_per_day, windows=WINDOWS
    )
    assert (day_full.at, day_full.reason) == (local(6, 9, 0), RetryReason.DAY_LIMIT)


def test_bad_rules_say_which_key_and_value() -> None:
    with pytest.raises(PolicyError, match=r"campaigns.retry.busy = '10 minutes'"):
        RetryPolicy.from_settings(replace(RetryDefaults(), busy="10 minutes"))
    with pytest.raises(PolicyError, match=r"campaigns\.windows\.tue .* overlap"):
        CallingWindows.from_settings(replace(WindowDefaults(), tue="09:00-13:00,12:00-18:00"), "Asia/Shanghai")
    with pytest.raises(PolicyError, match="ends before it begins"):
        CallingWindows.from_settings(replace(WindowDefaults(), wed="20:00-09:00"), "Asia/Shanghai")
    with pytest.raises(PolicyError, match="holidays: '2026-13-01'"):
        CallingWindows.from_settings(replace(WindowDefaults(), holidays=("2026-13-01",)), "Asia/Shanghai")
    with pytest.raises(PolicyError, match="Mars/Base"):
        CallingWindows.from_settings(WindowDefaults(), "Mars/Base")
    closed = CallingWindows.from_settings(
        WindowDefaults(mon="", tue="", wed="", thu="", fri="", sat="", sun=""), "Asia/Shanghai"
    )
    with pytest.raises(PolicyError, match="no calling window"):
        closed.next_opening(local(5, 10))


def test_durations() -> None:
    assert parse_duration("90s", "x") == 90
    assert parse_duration("1h30m", "x") == 5400
    assert parse_duration("1d", "x") == 86400
    for bad in ("", "h", "5", "-5m"):
        with pytest.raises(PolicyError):
            parse_duration(bad, "x")


def test_settings_load_validates_the_campaign_section(tmp_path) -> None:
    cfg_file = tmp_path / "dialer.toml"
    cfg_file.write_text('[campaigns.retry]\nbusy = "15m"\n[campaigns.windows]\nsat = "10:00-18:00"\n', encoding="utf-8")
    cfg = config.load(cfg_file, env={"DIALER__CAMPAIGNS__PACING__MODE": "predictive"})
    rules = CampaignRules.from_settings(cfg)
    assert cfg.campaigns.pacing.mode == "predictive"
    assert rules.retry.next_attempt(Outcome.BUSY, local(5, 10), 1, 1, rules.windows).at == local(5, 10, 15)
    assert rules.windows.next_opening(local(10, 8, 0)) == local(10, 10, 0)
    cfg_file.write_text('[campaigns.retry]\nbusy = "soon"\n', encoding="utf-8")
    with pytest.raises(settings_mod.ConfigError, match=re.escape("campaigns.retry.busy = 'soon'")):
        config.load(cfg_file, env={})
    with pytest.raises(settings_mod.ConfigError, match=re.escape("campaigns.pacing.mode = 'turbo'")):
        config.load(
            tmp_path / "dialer.toml",
            env={"DIALER__CAMPAIGNS__PACING__MODE": "turbo", "DIALER__CAMPAIGNS__RETRY__BUSY": "5m"},
        )


NOW = local(5, 10)


def test_deadline_near_outranks_routine_and_promised_calls() -> None:
    p = Prioritizer(deadline_urgent_s=6 * 3600)
    base_customer = Candidate("base", due_at=NOW - timedelta(days=3))
    hq_near_48h = Candidate("hq", due_at=NOW, deadline=NOW + timedelta(hours=2))
    callback = Candidate("cb", due_at=NOW - timedelta(minutes=5), promised=True)
    hq_fresh = Candidate("hq-new", due_at=NOW, deadline=NOW + timedelta(hours=40))
    hq_overdue = Candidate("hq-late", due_at=NOW, deadline=NOW - timedelta(hours=1))
    not_due = Candidate("later", due_at=NOW + timedelta(minutes=1), deadline=NOW + timedelta(minutes=30))
    ranked = p.rank([base_customer, hq_fresh, callback, hq_near_48h, not_due, hq_overdue], NOW)
    assert [c.lead_id for c in ranked] == ["hq-late", "hq", "cb", "hq-new", "base"]
    assert p.tier(hq_fresh, NOW + timedelta(hours=35)) is PriorityTier.URGENT_DEADLINE


def test_routine_leads_go_oldest_due_first_with_a_stable_tie_break() -> None:
    p = Prioritizer(deadline_urgent_s=0)
    ranked = p.rank([Candidate("b", NOW), Candidate("a", NOW), Candidate("c", NOW - timedelta(hours=1))], NOW)
    assert [c.lead_id for c in ranked] == ["c", "a", "b"]
