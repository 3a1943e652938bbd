from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dialer.domain.leads.errors import LeadStateError
from dialer.domain.leads.model import (
    FieldError,
    IntentLevel,
    LeadSource,
    LeadState,
    PhoneKind,
    check_transition,
    parse_date,
    parse_datetime,
    parse_flag,
    parse_intent,
    parse_phone,
    parse_source,
)

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("13800138000", "+8613800138000", PhoneKind.MOBILE),
        ("138 0013 8000", "+8613800138000", PhoneKind.MOBILE),
        ("+86 138-0013-8000", "+8613800138000", PhoneKind.MOBILE),
        ("008613800138000", "+8613800138000", PhoneKind.MOBILE),
        (13800138000, "+8613800138000", PhoneKind.MOBILE),
        (13800138000.0, "+8613800138000", PhoneKind.MOBILE),
        ("010-88886666", "+861088886666", PhoneKind.LANDLINE),
        ("(021) 6888 1234", "+862168881234", PhoneKind.LANDLINE),
    ],
)
def test_phones_are_normalized_to_e164_with_their_kind(raw: object, e164: str, kind: PhoneKind) -> None:
    phone = parse_phone(raw, "CN")
    assert (phone.e164, phone.kind) == (e164, kind)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("88886666", "landline without area code"),
        ("6888123", "landline without area code"),
        ("12345", "not a valid number"),
        ("1380013800", "not a valid number"),
        ("abc", "not a number"),
    ],
)
def test_bad_phones_are_rejected_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(FieldError) as err:
        parse_phone(raw, "CN")
    assert err.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        ("hq", LeadSource.HQ),
        ("总部下发", LeadSource.HQ),
        ("网络", LeadSource.WEB),
        ("汽车之家", LeadSource.WEB),
        ("低意向", LeadSource.LOW_INTENT),
        ("战败", LeadSource.DEFEATED),
        ("基盘客户", LeadSource.BASE_CUSTOMER),
        ("Referral", LeadSource.REFERRAL),
        ("来电", LeadSource.INBOUND),
    ],
)
def test_sources_accept_chinese_labels_and_english_values(raw: str, source: LeadSource) -> None:
    assert parse_source(raw) is source


def test_unknown_source_is_rejected() -> None:
    with pytest.raises(FieldError, match="unknown source"):
        parse_source("报纸")


def test_intent_levels() -> None:
    assert parse_intent("H级") is IntentLevel.H
    assert parse_intent(" b ") is IntentLevel.B
    assert parse_intent("") is None
    with pytest.raises(FieldError):
        parse_intent("D")


def test_local_times_become_utc_and_dates_parse_in_dealer_formats() -> None:
    assert parse_datetime("2026-11-28 10:00", SH) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert parse_datetime("2026/11/28", SH) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert parse_datetime(datetime(2026, 11, 28, 10, 0), SH) == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert parse_date("2019年5月1日") == date(2019, 5, 1)
    assert parse_date(datetime(2019, 5, 1, 8, 0)) == date(2019, 5, 1)
    with pytest.raises(FieldError, match="not a date"):
        parse_date("01-05-2019")
    with pytest.raises(FieldError, match="not a time"):
        parse_datetime("2026-11-28 25:61", SH)


def test_flags() -> None:
    assert parse_flag("是") is True
    assert parse_flag("no") is False
    assert parse_flag(None) is None
    with pytest.raises(FieldError):
        parse_flag("也许")


def test_transitions_follow_the_doss_lifecycle() -> None:
    check_transition(1, LeadState.NEW, LeadState.FOLLOWING)
    check_transition(1, LeadState.DEFEATED, LeadState.REACTIVATED)
    check_transition(1, LeadState.VISITED, LeadState.INVITED)
    for current, target in [
        (LeadState.DEAL, LeadState.FOLLOWING),
        (LeadState.DEFEATED, LeadState.FOLLOWING),
        (LeadState.INVALID, LeadState.NEW),
        (LeadState.NEW, LeadState.REACTIVATED),
    ]:
        with pytest.raises(LeadStateError, match=f"lead 1: cannot go from {current.value} to {target.value}"):
            check_transition(1, current, target)
