"""Phone numbers: one canonical form in, masked form in logs, the right digits to the PBX."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.phone import _MAINLAND, DialFormat, InvalidPhone, Phone, _parsed, dial_string, mask, normalize


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


def _outcome(check: Callable[..., Phone], *args: str) -> tuple[str, bool] | str:
    try:
        phone = check(*args)
    except InvalidPhone as exc:
        return exc.reason
    return phone.e164, phone.mobile


def _mainland_corpus() -> list[str]:
    """Both shapes the fast path takes, over every leading block and length, written as files write them,
    with the edges phonenumbers reads otherwise (carrier and international prefixes, the country code)."""
    rng = random.Random(18)
    digits = [f"{block}{rng.randrange(10**7):07d}" for block in range(1000, 2000) for _ in range(4)]
    digits += [
        f"0{area}{rng.randrange(10**tail):0{tail}d}" for area in range(100, 1000) for tail in range(3, 10)
    ]  # trunk 0, a 3-digit start, national numbers of 6 to 12 digits
    digits += [f"0{rng.randrange(10**n):0{n}d}" for n in range(1, 15) for _ in range(20)]  # 00…, short, long
    digits += [f"{p}{rng.randrange(10**11):011d}" for p in ("17951", "17911", "11808", "12593", "86", "0086")]
    digits += [f"86{rng.randrange(10**n):0{n}d}" for n in range(5, 13) for _ in range(10)]
    written = []
    for number in digits:
        written.append(number)
        cut = rng.randrange(1, len(number))
        written.append(f"{number[:cut]}{rng.choice(['-', ' ', ' - ', '--'])}{number[cut:]}")
    return written


def test_the_mainland_fast_path_agrees_with_phonenumbers_on_a_corpus() -> None:
    """The fast path (mobiles as 11 digits, landlines with their trunk 0) gives what phonenumbers gives,
    number, kind or reason, for every number of the corpus it takes; the rest it leaves to phonenumbers."""
    taken = 0
    outcomes: set[str | bool] = set()
    for text in _mainland_corpus():
        national = _MAINLAND.national(text)
        if national is None:
            continue
        taken += 1
        fast = _outcome(normalize, text)
        assert fast == _outcome(_parsed, text, text, "CN"), text
        outcomes.add(fast if isinstance(fast, str) else fast[1])
    # Not vacuous: most of the corpus took the fast path, with every kind of result.
    assert taken > 0.8 * len(_mainland_corpus())
    assert outcomes == {True, False, "not a valid number", "not a dialable mobile or landline"}


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789 -", min_size=2, max_size=16))
def test_any_digits_read_the_same_by_either_path(text: str) -> None:
    text = text.strip()
    if _MAINLAND.national(text) is not None:
        assert _outcome(normalize, text) == _outcome(_parsed, text, text, "CN")
