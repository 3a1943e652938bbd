"""Phone numbers: one canonical form in, masked form in logs, the right digits to the PBX."""

from __future__ import annotations

import pytest

from dialer.phone import DialFormat, InvalidPhone, dial_string, mask, normalize


@pytest.mark.parametrize(
    ("raw", "e164", "mobile"),
    [
        ("13800138000", "+8613800138000", True),
        ("+86 138 0013 8000", "+8613800138000", True),
        ("008613800138000", "+8613800138000", True),
        ("010-8888 6666", "+861088886666", False),
        ("02188886666", "+862188886666", False),
        ("+12025550123", "+12025550123", False),
    ],
)
def test_normalize_to_e164(raw: str, e164: str, mobile: bool) -> None:
    phone = normalize(raw)
    assert (phone.e164, phone.mobile) == (e164, mobile)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("123", "wrong length"),
        ("abc", "not a number"),
        ("1380013800", "not a valid number"),
        ("12345678901", "not a valid number"),
    ],
)
def test_invalid_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize(raw)
    assert info.value.reason == reason and repr(raw) in str(info.value)


def test_dial_string_national_and_e164() -> None:
    mobile, landline, foreign = normalize("13800138000"), normalize("01088886666"), normalize("+12025550123")
    assert dial_string(mobile, DialFormat.NATIONAL) == "13800138000"
    assert dial_string(landline, DialFormat.NATIONAL) == "01088886666"
    assert dial_string(foreign, DialFormat.NATIONAL) == "0012025550123"
    assert dial_string(mobile, DialFormat.E164) == "+8613800138000"


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+8613800138000", "+86138****8000"), ("13800138000", "138****8000"), ("12345", "*****"), ("", "")],
)
def test_mask_hides_the_middle(number: str, masked: str) -> None:
    assert mask(number) == masked
